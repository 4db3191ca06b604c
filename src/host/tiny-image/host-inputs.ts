// Finds what the tiny image is made of: Debian's newest kernel and its modules, busybox-static,
// dropbear and the shared libraries it links (unpacked from their packages into the build cache,
// guest-packages.ts), and the host's syslinux. Reads only; builds nothing.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { Unavailable } from '../../platform/errors.ts';
import { exec } from '../exec.ts';
import {
  GUEST_MODULES,
  moduleLoadOrder,
  parseModulesBuiltin,
  parseModulesDep,
  type ModuleEntry,
} from './kernel-modules.ts';

/** Where Debian puts things; a test may point these elsewhere. */
export interface HostPaths {
  readonly boot: string;
  readonly modules: string;
  readonly busybox: string;
  readonly dropbear: string;
  readonly dropbearkey: string;
  readonly syslinuxMbr: string;
  readonly syslinux: string;
  /**
   * Where the guest's packages are unpacked (guest-packages.ts): libraries there are found before
   * the host's, and go into the guest at their path below it. Absent: everything is the host's.
   */
  readonly unpacked?: string;
}

export const DEBIAN_PATHS: HostPaths = {
  boot: '/boot',
  modules: '/lib/modules',
  busybox: '/bin/busybox',
  dropbear: '/usr/sbin/dropbear',
  dropbearkey: '/usr/bin/dropbearkey',
  syslinuxMbr: '/usr/lib/syslinux/mbr/mbr.bin',
  syslinux: '/usr/bin/syslinux',
};

/** The paths of the guest's inputs in packages unpacked at `root`; syslinux stays the host's. */
export function unpackedPaths(root: string, host: HostPaths = DEBIAN_PATHS): HostPaths {
  // Debian 12 ships /lib/modules and /bin/busybox; later releases the same under /usr.
  const first = (...rel: string[]) =>
    rel.map((r) => join(root, r)).find((p) => existsSync(p)) ?? join(root, rel[0]!);
  return {
    ...host,
    boot: join(root, 'boot'),
    modules: first('lib/modules', 'usr/lib/modules'),
    busybox: first('bin/busybox', 'usr/bin/busybox'),
    dropbear: first('usr/sbin/dropbear', 'usr/bin/dropbear'),
    dropbearkey: join(root, 'usr/bin/dropbearkey'),
    unpacked: root,
  };
}

/** The library directories of packages unpacked at `root`, for LD_LIBRARY_PATH. */
function libraryDirs(root: string): string {
  return ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib', 'usr/lib']
    .map((d) => join(root, d))
    .join(':');
}

/** An environment that finds the unpacked libraries first (for ldd and the binaries' -V). */
function unpackedEnv(paths: HostPaths): { env?: Record<string, string> } {
  if (!paths.unpacked) return {};
  return {
    env: {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LC_ALL: 'C',
      LD_LIBRARY_PATH: libraryDirs(paths.unpacked),
    },
  };
}

/** Debian package that provides each input, for the "install it" message. */
const PACKAGE_OF: Record<Exclude<keyof HostPaths, 'unpacked'>, string> = {
  boot: 'linux-image-amd64',
  modules: 'linux-image-amd64',
  busybox: 'busybox-static',
  dropbear: 'dropbear-bin',
  dropbearkey: 'dropbear-bin',
  syslinuxMbr: 'syslinux-common',
  syslinux: 'syslinux',
};

export interface HostInputs {
  readonly kernelRelease: string;
  readonly kernel: string;
  readonly modulesDir: string;
  readonly modules: readonly ModuleEntry[];
  readonly busybox: string;
  /** Applet paths relative to / ("bin/sh", "usr/bin/wget"), the busybox binary itself excluded. */
  readonly applets: readonly string[];
  readonly busyboxVersion: string;
  readonly dropbear: string;
  readonly dropbearkey: string;
  readonly dropbearVersion: string;
  /** Shared libraries: the path the binaries ask for, and the host file that holds it. */
  readonly libraries: readonly { readonly path: string; readonly source: string }[];
  readonly syslinuxMbr: string;
  readonly syslinux: string;
  readonly syslinuxVersion: string;
}

/** A Debian package the build needs is not installed; `fields.packages` names what to install. */
export class MissingHostInput extends Unavailable {
  readonly packages: readonly string[];
  constructor(message: string, packages: readonly string[]) {
    super(message, 'host_package_missing', { packages });
    this.name = 'MissingHostInput';
    this.packages = packages;
  }
}

/** The newest "vmlinuz-<release>" in `bootDir` that also has a modules directory. */
export function newestKernel(
  bootDir: string,
  modulesRoot: string,
): { release: string; path: string } {
  const releases = (existsSync(bootDir) ? readdirSync(bootDir) : [])
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .filter((r) => existsSync(join(modulesRoot, r, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const release = releases.at(-1);
  if (!release)
    throw new MissingHostInput(`no kernel with modules in ${bootDir} and ${modulesRoot}`, [
      PACKAGE_OF.boot,
    ]);
  return { release, path: join(bootDir, `vmlinuz-${release}`) };
}

/** True when the ELF file asks for a program interpreter (PT_INTERP), that is, links shared libraries. */
export function isDynamicElf(bytes: Uint8Array): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (b[4] !== 2 || b[5] !== 1) throw new Error('only 64-bit little-endian ELF is supported');
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (b.readUInt32LE(phoff + i * phentsize) === 3) return true;
  }
  return false;
}

/** The absolute library paths in `ldd` output ("libz.so.1 => /lib/.../libz.so.1 (0x...)", "/lib64/ld-... (0x...)"). */
export function parseLdd(output: string): string[] {
  const libs: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.includes('not found')) throw new Error(`shared library missing on the host: ${line}`);
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const direct = /^(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? direct?.[1];
    if (path) libs.push(path);
  }
  return libs;
}

async function sharedLibraries(
  binaries: readonly string[],
  paths: HostPaths,
): Promise<{ path: string; source: string }[]> {
  const seen = new Map<string, string>();
  const root = paths.unpacked;
  for (const bin of binaries) {
    if (!isDynamicElf(readFileSync(bin))) continue;
    const { stdout } = await exec(['ldd', bin], { timeoutMs: 10_000, ...unpackedEnv(paths) });
    for (const path of parseLdd(stdout)) {
      // An unpacked library goes where its package would install it.
      const guest = root && path.startsWith(`${root}/`) ? path.slice(root.length) : path;
      seen.set(guest, realpathSync(path));
    }
  }
  return [...seen]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, source]) => ({ path, source }));
}

function requireFiles(
  paths: HostPaths,
  keys: readonly Exclude<keyof HostPaths, 'unpacked'>[],
): void {
  const missing = keys.filter((k) => !existsSync(paths[k]));
  const root = paths.unpacked;
  const inPackages = missing.filter((k) => root && paths[k].startsWith(`${root}/`));
  if (inPackages.length > 0)
    throw new Error(
      `the unpacked packages in ${root} lack ${inPackages.map((k) => paths[k].slice(root!.length)).join(', ')} (${[...new Set(inPackages.map((k) => PACKAGE_OF[k]))].join(', ')})`,
    );
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((k) => PACKAGE_OF[k]))];
    throw new MissingHostInput(
      `missing ${missing.map((k) => paths[k]).join(', ')}; install: apt-get install --no-install-recommends ${pkgs.join(' ')}`,
      pkgs,
    );
  }
}

/** Everything the image is built from, with versions; fails naming the Debian packages to install. */
export async function findHostInputs(paths: HostPaths = DEBIAN_PATHS): Promise<HostInputs> {
  requireFiles(paths, ['busybox', 'dropbear', 'dropbearkey', 'syslinuxMbr', 'syslinux']);
  const { release, path: kernel } = newestKernel(paths.boot, paths.modules);
  const modulesDir = join(paths.modules, release);
  const dep = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'));
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile)
    ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8'))
    : new Set<string>();
  const modules = moduleLoadOrder(GUEST_MODULES, dep, builtin);

  if (isDynamicElf(readFileSync(paths.busybox))) {
    throw new MissingHostInput(
      `${paths.busybox} is dynamically linked; the guest needs busybox-static`,
      ['busybox-static'],
    );
  }
  const self = paths.busybox.replace(/^\//, '');
  const applets = (await exec([paths.busybox, '--list-full'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .map((l) => l.trim())
    // Never link busybox to itself (ELOOP at boot); linuxrc is for the old initrd scheme.
    .filter((a) => a && a !== self && a !== 'bin/busybox' && a !== 'linuxrc')
    .sort();
  const busyboxVersion =
    /BusyBox v(\S+)/.exec((await exec([paths.busybox], { timeoutMs: 10_000 })).stdout)?.[1] ??
    'unknown';
  const dropbearVersion = await versionOf([paths.dropbear, '-V'], /Dropbear v(\S+)/, paths);
  const syslinuxVersion = await versionOf([paths.syslinux, '--version'], /syslinux (\S+)/i);

  return {
    kernelRelease: release,
    kernel,
    modulesDir,
    modules,
    busybox: paths.busybox,
    applets,
    busyboxVersion,
    dropbear: paths.dropbear,
    dropbearkey: paths.dropbearkey,
    dropbearVersion,
    libraries: await sharedLibraries([paths.dropbear, paths.dropbearkey], paths),
    syslinuxMbr: paths.syslinuxMbr,
    syslinux: paths.syslinux,
    syslinuxVersion,
  };
}

/** Version tools print on stdout or stderr, and some exit non-zero after printing it. */
async function versionOf(
  command: readonly string[],
  pattern: RegExp,
  paths?: HostPaths,
): Promise<string> {
  try {
    const { stdout, stderr } = await exec(command, {
      timeoutMs: 10_000,
      ...(paths ? unpackedEnv(paths) : {}),
    });
    return pattern.exec(stdout + stderr)?.[1] ?? 'unknown';
  } catch (e) {
    const stderr = (e as { fields?: { stderr?: unknown } }).fields?.stderr;
    return (typeof stderr === 'string' ? pattern.exec(stderr)?.[1] : undefined) ?? 'unknown';
  }
}
