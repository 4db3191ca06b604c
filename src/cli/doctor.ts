// `nubes doctor`: what this host can do for Nubes, one line per check, what to do about each one
// that fails, and an exit status (1 when something essential is missing). The probes live in
// src/host/doctor/; this file only formats and decides the exit status.
import type { Config } from './config.ts';
import type { Check } from '../host/doctor/check.ts';
import { runDoctor } from '../host/doctor/doctor.ts';

/** 1 when an essential check says 'no' (the cloud cannot run here), else 0. */
export function doctorExitCode(checks: readonly Check[]): 0 | 1 {
  return checks.some((c) => c.essential && c.status === 'no') ? 1 : 0;
}

const QEMU_NEEDS = ['qemu', 'qemu-img', 'genisoimage'];

/** The last line: whether the cloud runs here, and with which virt drivers. */
export function verdict(checks: readonly Check[], virtDriver: Config['virtDriver']): string {
  const blocking = checks.filter((c) => c.essential && c.status === 'no').map((c) => c.name);
  const attention = checks.filter((c) => c.status !== 'ok').length;
  const qemuMissing = QEMU_NEEDS.filter((n) => checks.find((c) => c.name === n)?.status === 'no');
  const accel = checks.find((c) => c.name === 'accelerator');
  const qemu =
    qemuMissing.length > 0
      ? `the qemu driver cannot (${qemuMissing.join(', ')} missing)`
      : `the qemu driver can${accel ? ` (${accel.status === 'ok' ? 'KVM' : 'TCG'})` : ''}`;
  const tail =
    attention === 0
      ? 'Every check passed.'
      : `${attention} check${attention === 1 ? ' needs' : 's need'} attention.`;
  if (blocking.length > 0)
    return `Nubes cannot run here (virt driver ${virtDriver}): ${blocking.join(', ')} failed. ${tail}`;
  return `Nubes can run here: the fake driver can, ${qemu}; configured: ${virtDriver}. ${tail}`;
}

/** The report: a header, the table (one line per check), the fixes, and the verdict. */
export function formatChecks(
  checks: readonly Check[],
  opts: { dataDir: string; virtDriver: Config['virtDriver'] },
): string {
  const w = Math.max('CHECK'.length, ...checks.map((c) => c.name.length));
  const row = (a: string, b: string, c: string) => `${a.padEnd(w)}  ${b.padEnd(6)}  ${c}`.trimEnd();
  const lines = [
    `nubes doctor: this host (data dir ${opts.dataDir}, virt driver ${opts.virtDriver})`,
    '',
    row('CHECK', 'STATUS', 'DETAIL'),
    ...checks.map((c) => row(c.name, c.status, c.detail)),
  ];
  const fixes = checks.filter((c) => c.status !== 'ok' && c.fix);
  if (fixes.length > 0)
    lines.push('', 'What to do:', ...fixes.map((c) => `  ${c.name.padEnd(w)}  ${c.fix}`));
  lines.push('', verdict(checks, opts.virtDriver), '');
  return lines.join('\n');
}

export async function runDoctorCommand(config: Config): Promise<number> {
  const checks = await runDoctor({ dataDir: config.dataDir, virtDriver: config.virtDriver });
  process.stdout.write(
    formatChecks(checks, { dataDir: config.dataDir, virtDriver: config.virtDriver }),
  );
  return doctorExitCode(checks);
}
