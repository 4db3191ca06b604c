// `nubes doctor` on virtualization: the accelerator QEMU would use (accel.ts decides, this only
// reports), the QEMU and qemu-img binaries, genisoimage for config drives, and the inputs of the
// nubes-tiny guest image. Runs only version, help and apt query commands; starts no guest.
import { chooseAccelerator } from '../qemu/accel.ts';
import { exec, haveCommand } from '../exec.ts';
import { existsSync } from 'node:fs';
import { DEBIAN_PATHS } from '../tiny-image/host-inputs.ts';
import { resolveGuestPackages } from '../tiny-image/guest-packages.ts';
import { check, isMissing, oneLine, parseVersion, type Check } from './check.ts';

const LIMIT = { timeoutMs: 10_000 };

/** The accelerator chooseAccelerator() picks, and why; TCG works but is slow, so it is a warn. */
export function probeAccelerator(opts: Parameters<typeof chooseAccelerator>[0] = {}): Check {
  const choice = chooseAccelerator(opts);
  if (choice.accel === 'kvm') return check('accelerator', 'ok', choice.why);
  const fix = /cannot be opened/.test(choice.why)
    ? 'guests run on TCG (slow); for KVM enable VT-x/AMD-V in the firmware, modprobe kvm_intel or kvm_amd, and run nubes as root or in group kvm'
    : 'guests run on TCG (slow); for KVM use a host whose CPU shows vmx/svm (bare metal, or nested virtualization enabled)';
  return check('accelerator', 'warn', choice.why, { fix });
}

async function versionOf(
  name: string,
  argv: readonly string[],
  pkg: string,
  essential: boolean,
): Promise<{ check: Check; ok: boolean }> {
  try {
    const { stdout, stderr } = await exec(argv, LIMIT);
    const out = `${stdout}\n${stderr}`;
    const v = parseVersion(out);
    if (!v)
      return {
        ok: false,
        check: check(
          name,
          'warn',
          `${argv[0]} runs but prints no version: ${out.trim().split('\n')[0]}`,
          { essential },
        ),
      };
    return { ok: true, check: check(name, 'ok', `${argv[0]} ${v}`, { essential }) };
  } catch (e) {
    if (await isMissing(argv[0]!, e))
      return {
        ok: false,
        check: check(name, 'no', `${argv[0]} is not installed`, {
          essential,
          fix: `apt install ${pkg}`,
        }),
      };
    return {
      ok: false,
      check: check(name, 'no', `${argv.join(' ')} fails: ${oneLine(e)}`, {
        essential,
        fix: `reinstall ${pkg}`,
      }),
    };
  }
}

/** qemu-system-x86_64: its version and the accelerators the binary was built with. */
export async function probeQemu(essential: boolean): Promise<Check> {
  const got = await versionOf(
    'qemu',
    ['qemu-system-x86_64', '--version'],
    'qemu-system-x86 qemu-utils',
    essential,
  );
  if (!got.ok) return got.check;
  try {
    const { stdout } = await exec(['qemu-system-x86_64', '-accel', 'help'], LIMIT);
    const accels = stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[a-z][a-z0-9-]*$/.test(l));
    return check(
      'qemu',
      got.check.status,
      `${got.check.detail}; accelerators: ${accels.join(', ') || 'none listed'}`,
      { essential },
    );
  } catch (e) {
    return check('qemu', 'warn', `${got.check.detail}; -accel help fails: ${oneLine(e)}`, {
      essential,
    });
  }
}

export async function probeQemuImg(essential: boolean): Promise<Check> {
  const got = (await versionOf('qemu-img', ['qemu-img', '--version'], 'qemu-utils', essential))
    .check;
  // Image uploads are read by qemu-img whatever the virt driver: say what its absence costs.
  return got.status === 'no'
    ? { ...got, detail: `${got.detail}; image uploads in disk formats are refused without it` }
    : got;
}

export async function probeGenisoimage(essential: boolean): Promise<Check> {
  const got = (
    await versionOf('genisoimage', ['genisoimage', '-version'], 'genisoimage', essential)
  ).check;
  return got.status === 'ok'
    ? { ...got, detail: `${got.detail} (config drives)` }
    : { ...got, detail: `${got.detail}; instances get no config drive without it` };
}

/**
 * What `nubes up` builds the nubes-tiny image from: the guest's Debian packages, which apt must be
 * able to fetch (apt-get download; nothing is installed), and the host's build tools. Reads only.
 */
export async function probeTinyImageInputs(): Promise<Check> {
  const tools: [string, string][] = [
    ['apt-get', 'apt'],
    ['dpkg-deb', 'dpkg'],
    ['depmod', 'kmod'],
    ['syslinux', 'syslinux'],
    ['mcopy', 'mtools'],
    ['mkfs.vfat', 'dosfstools'],
    ['mkfs.ext4', 'e2fsprogs'],
  ];
  const missing: string[] = [];
  for (const [cmd, pkg] of tools)
    if (!(await haveCommand(cmd)) && !existsSync(`/sbin/${cmd}`)) missing.push(pkg);
  if (!existsSync(DEBIAN_PATHS.syslinuxMbr)) missing.push('syslinux-common');
  if (missing.length > 0)
    return check(
      'tiny image',
      'warn',
      `nubes up cannot build nubes-tiny: missing ${missing.join(', ')}`,
      {
        fix: `apt install ${[...new Set(missing)].join(' ')}`,
      },
    );
  try {
    const packages = await resolveGuestPackages();
    return check(
      'tiny image',
      'ok',
      `built from ${packages.join(', ')} (apt-get download into the build cache, not installed)`,
    );
  } catch (e) {
    return check('tiny image', 'warn', `nubes up cannot build nubes-tiny: ${oneLine(e)}`, {
      fix: 'apt-get update (the guest packages come from the apt archive)',
    });
  }
}
