// Builds (or finds in its cache) the Nubes tiny guest image, our CirrOS: a whole-disk qcow2 plus the
// kernel and initramfs for aki/ari-style direct boot. The cache key is a hash of every input byte;
// a build happens in a private directory under the cache and appears only by an atomic rename. The
// guest's Debian packages are fetched into the cache too (guest-packages.ts), never installed.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { exec } from '../exec.ts';
import { buildDisk, planLayout, syslinuxConfig, toolEnv, BOOT_LABEL, DATA_LABEL } from './disk.ts';
import {
  findHostInputs,
  MissingHostInput,
  unpackedPaths,
  type HostInputs,
  type HostPaths,
} from './host-inputs.ts';
import { fetchGuestPackages, type GuestPackage } from './guest-packages.ts';
import { guestTree, newcArchive, resolveTree, type ResolvedEntry } from './initramfs.ts';

export interface TinyImage {
  /** Whole-disk qcow2, BIOS-bootable without -kernel: MBR, FAT boot partition (syslinux), ext4 /data. */
  readonly disk: string;
  /** The kernel (Debian's vmlinuz, a bzImage) for an 'aki' image. */
  readonly kernel: string;
  /** The initramfs (newc cpio, gzip) for an 'ari' image. */
  readonly ramdisk: string;
  /** Hash of every input (kernel, modules, busybox, dropbear, syslinux, guest scripts, builder version). */
  readonly version: string;
  /** Command line for booting kernel + ramdisk directly; the disk's syslinux.cfg uses the same. */
  readonly kernelCmdline: string;
}

export interface BuildTinyImageOptions {
  readonly cacheDir: string;
  readonly log?: (line: string) => void;
  /** Rebuild even when the cache holds this version (the new build replaces the old one). */
  readonly force?: boolean;
  /**
   * Where the inputs are. By default the guest's Debian packages are fetched with apt-get download
   * into `packagesDir` and unpacked there (nothing is installed on the host); syslinux is the host's.
   */
  readonly hostPaths?: HostPaths;
  /** Where the guest's packages are kept (default <cacheDir>/packages). */
  readonly packagesDir?: string;
}

/** Bump to force new images everywhere without touching the inputs (the builder's sources are hashed too). */
const BUILDER_VERSION = 'nubes-tiny-builder/1';
/** The builder's own sources: any change to how the bytes are made changes the version. */
const BUILDER_SOURCES = [
  'build-tiny-image.ts',
  'disk.ts',
  'initramfs.ts',
  'mbr.ts',
  'kernel-modules.ts',
  'host-inputs.ts',
].map((f) => new URL(`./${f}`, import.meta.url).pathname);
/** Every timestamp in the image: 2000-01-01T00:00:00Z (FAT cannot store times before 1980). */
export const EPOCH = 946_684_800;
/** 'NUBE': the FAT volume id and the MBR disk signature. */
const VOLUME_ID = 0x4e554245;
/** tty0 for a VNC console, ttyS0 last so /dev/console (and the markers) go to the serial log. */
export const KERNEL_CMDLINE = 'console=tty0 console=ttyS0,115200n8';

const FILES = {
  disk: 'disk.qcow2',
  kernel: 'vmlinuz',
  ramdisk: 'initrd.gz',
  manifest: 'manifest.json',
} as const;

/** Commands the build runs, and the Debian package of each. */
const TOOLS: readonly (readonly [command: string, pkg: string])[] = [
  ['mkfs.vfat', 'dosfstools'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['mcopy', 'mtools'],
  ['syslinux', 'syslinux'],
  ['qemu-img', 'qemu-utils'],
  ['ldd', 'libc-bin'],
  ['dpkg-deb', 'dpkg'],
];

function requireTools(inputs: HostInputs): void {
  const dirs = toolEnv(EPOCH).PATH!.split(delimiter);
  const needed = [...TOOLS];
  if (inputs.modules.some((m) => m.path.endsWith('.xz'))) needed.push(['xz', 'xz-utils']);
  if (inputs.modules.some((m) => m.path.endsWith('.zst'))) needed.push(['zstd', 'zstd']);
  const missing = needed.filter(([cmd]) => !dirs.some((d) => existsSync(join(d, cmd))));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))];
    throw new MissingHostInput(
      `missing ${missing.map(([c]) => c).join(', ')}; install: apt-get install --no-install-recommends ${pkgs.join(' ')}`,
      pkgs,
    );
  }
}

function sha256(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** A v4-shaped UUID derived from the version, so the data filesystem differs between versions but not between builds. */
function uuidFrom(seed: string): string {
  const h = sha256('ext4-uuid', seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function versionOf(
  tree: readonly ResolvedEntry[],
  kernel: Uint8Array,
  mbr: Uint8Array,
  syslinux: Uint8Array,
  builder: readonly Uint8Array[],
): string {
  const h = createHash('sha256');
  h.update(`${BUILDER_VERSION}\n${KERNEL_CMDLINE}\n${EPOCH}\n${BOOT_LABEL}\n${DATA_LABEL}\n`);
  for (const src of builder) h.update(`builder ${sha256(src)}\n`);
  for (const e of tree)
    h.update(`${e.path} ${e.mode.toString(8)} ${e.rdev?.join(':') ?? ''} ${sha256(e.data)}\n`);
  h.update(`kernel ${sha256(kernel)}\nmbr ${sha256(mbr)}\nsyslinux ${sha256(syslinux)}\n`);
  return h.digest('hex').slice(0, 20);
}

function imageAt(dir: string, version: string): TinyImage {
  return {
    disk: join(dir, FILES.disk),
    kernel: join(dir, FILES.kernel),
    ramdisk: join(dir, FILES.ramdisk),
    version,
    kernelCmdline: KERNEL_CMDLINE,
  };
}

/** A version directory is complete when all its files exist; they appear together, by one rename. */
function isComplete(dir: string): boolean {
  return Object.values(FILES).every((f) => existsSync(join(dir, f)));
}

/** Leftovers of builders that died (a crash between mkdtemp and the rename) older than an hour. */
async function sweepStale(cacheDir: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of await readdir(cacheDir)) {
    if (!name.startsWith('.build-') && !name.startsWith('.old-')) continue;
    const p = join(cacheDir, name);
    const st = await stat(p).catch(() => null);
    if (st && st.mtimeMs < hourAgo) await rm(p, { recursive: true, force: true });
  }
}

/**
 * Moves a finished build to `final`. Without force, an existing complete version wins (another
 * builder finished first, with the same bytes); with force, the old one is moved aside and dropped.
 */
async function commit(
  built: string,
  final: string,
  cacheDir: string,
  force: boolean,
): Promise<void> {
  try {
    await rename(built, final);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
  }
  if (!force && isComplete(final)) return;
  const old = join(cacheDir, `.old-${randomUUID()}`);
  await rename(final, old);
  await rename(built, final);
  await rm(old, { recursive: true, force: true });
}

/** First line that names a version, from tools that print it on stdout or stderr. */
async function toolVersions(): Promise<Record<string, string>> {
  const env = toolEnv(EPOCH);
  const probe = async (cmd: readonly string[], pattern: RegExp): Promise<string> => {
    const r = await exec(cmd, { env, timeoutMs: 10_000 }).catch(
      (e: { fields?: { stderr?: string } }) => ({ stdout: '', stderr: e.fields?.stderr ?? '' }),
    );
    return pattern.exec(`${r.stdout}\n${r.stderr}`)?.[0] ?? 'unknown';
  };
  return {
    mkfsFat: await probe(['mkfs.vfat', '--help'], /mkfs\.fat \S+/),
    mke2fs: await probe(['mkfs.ext4', '-V'], /mke2fs \S+/),
    mtools: await probe(['mcopy', '--version'], /mcopy \(GNU mtools\) \S+|mtools\S* \S+/),
    qemuImg: await probe(['qemu-img', '--version'], /qemu-img version \S+/),
    node: process.version,
  };
}

export async function buildTinyImage(opts: BuildTinyImageOptions): Promise<TinyImage> {
  const log = opts.log ?? (() => {});
  const cacheDir = resolve(opts.cacheDir);
  await mkdir(cacheDir, { recursive: true });
  await sweepStale(cacheDir);
  let packages: readonly GuestPackage[] = [];
  let paths = opts.hostPaths;
  if (!paths) {
    const got = await fetchGuestPackages({
      packagesDir: opts.packagesDir ?? join(cacheDir, 'packages'),
      log,
    });
    packages = got.packages;
    paths = unpackedPaths(got.root);
  }
  const inputs = await findHostInputs(paths);
  requireTools(inputs);

  const work = await mkdtemp(join(cacheDir, '.build-'));
  try {
    const [kernel, mbr, syslinux] = await Promise.all([
      readFile(inputs.kernel),
      readFile(inputs.syslinuxMbr),
      readFile(inputs.syslinux),
    ]);
    const tree = await resolveTree(await guestTree(inputs), work);
    const builder = await Promise.all(BUILDER_SOURCES.map((f) => readFile(f)));
    const version = versionOf(tree, kernel, mbr, syslinux, builder);
    const final = join(cacheDir, version);
    if (!opts.force && isComplete(final)) {
      log(`tiny image: ${version} is cached in ${final}`);
      return imageAt(final, version);
    }

    const started = Date.now();
    log(
      `tiny image: building ${version} (kernel ${inputs.kernelRelease}, busybox ${inputs.busyboxVersion}, ` +
        `dropbear ${inputs.dropbearVersion}, syslinux ${inputs.syslinuxVersion}, ${inputs.modules.length} modules)`,
    );
    const out = join(work, 'out');
    await mkdir(out);
    const versionFile: ResolvedEntry = {
      path: '/etc/nubes-tiny/version',
      mode: 0o100644,
      data: Buffer.from(`${version}\n`),
    };
    const full = [...tree, versionFile].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
    // gzip from zlib: no name and no time in the header, so the same archive gives the same bytes.
    const ramdisk = gzipSync(newcArchive(full, EPOCH), { level: 9 });
    await writeFile(join(out, FILES.ramdisk), ramdisk);
    await writeFile(join(out, FILES.kernel), kernel);
    log(
      `tiny image: initramfs ${(ramdisk.length / 1048576).toFixed(1)} MiB (${full.length} entries)`,
    );

    const layout = planLayout(kernel.length, ramdisk.length);
    await buildDisk({
      workDir: work,
      kernel: join(out, FILES.kernel),
      initrd: join(out, FILES.ramdisk),
      cmdline: KERNEL_CMDLINE,
      mbrCode: inputs.syslinuxMbr,
      layout,
      epoch: EPOCH,
      volumeId: VOLUME_ID,
      dataUuid: uuidFrom(version),
      out: join(out, FILES.disk),
      log,
    });

    const tools = await toolVersions();
    const manifest = {
      version,
      builder: BUILDER_VERSION,
      kernelRelease: inputs.kernelRelease,
      busybox: inputs.busyboxVersion,
      dropbear: inputs.dropbearVersion,
      syslinux: inputs.syslinuxVersion,
      modules: inputs.modules.map((m) => m.name),
      // The Debian packages the guest's files were unpacked from (apt-get download).
      packages: packages.map((p) => p.file),
      // Not in the version: they change container bytes (FAT/ext4/qcow2 metadata), not what the guest runs.
      tools,
      kernelCmdline: KERNEL_CMDLINE,
      syslinuxCfg: syslinuxConfig(KERNEL_CMDLINE),
      layout: { sectorSize: 512, ...layout, bootLabel: BOOT_LABEL, dataLabel: DATA_LABEL },
      sha256: {
        disk: sha256(await readFile(join(out, FILES.disk))),
        kernel: sha256(kernel),
        ramdisk: sha256(ramdisk),
      },
    };
    await writeFile(join(out, FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
    await commit(out, final, cacheDir, opts.force === true);
    log(
      `tiny image: built ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s into ${final}`,
    );
    return imageAt(final, version);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
