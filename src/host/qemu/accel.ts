// Which accelerator QEMU should use on this host. KVM only when /dev/kvm opens AND the CPU
// advertises vmx or svm: a PVM host (KVM without hardware virtualisation, whose guests need a
// PVM-enabled kernel) has a /dev/kvm that starts QEMU but cannot run a stock guest kernel. Everything else runs on TCG, and says why.
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

export interface AccelChoice {
  readonly accel: 'kvm' | 'tcg';
  /** One line for logs and `nubes doctor`. */
  readonly why: string;
}

export function chooseAccelerator(
  opts: { kvmDevice?: string; cpuinfo?: string } = {},
): AccelChoice {
  const dev = opts.kvmDevice ?? '/dev/kvm';
  try {
    closeSync(openSync(dev, 'r+'));
  } catch (e) {
    return {
      accel: 'tcg',
      why: `TCG: ${dev} cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    };
  }
  const cpuinfo =
    opts.cpuinfo ?? (existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '');
  if (/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo))
    return { accel: 'kvm', why: `KVM: ${dev} opens and the CPU has hardware virtualization` };
  return {
    accel: 'tcg',
    why: `TCG: ${dev} opens but the CPU shows no vmx/svm (a paravirtual KVM cannot run stock guests)`,
  };
}
