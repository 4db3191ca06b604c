// The tiny guest's initramfs: what goes where (guestTree), and the archive itself, written here as
// newc cpio so that owners, modes, times and order are fixed by construction (no staging directory,
// no mknod, same bytes for a root or an unprivileged builder) and /dev/console can be included.
import { randomUUID } from 'node:crypto';
import { copyFile, readFile, readdir } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { exec } from '../exec.ts';
import type { HostInputs } from './host-inputs.ts';

export type TreeEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'file'; readonly path: string; readonly mode: number; readonly source: string }
  | {
      readonly kind: 'data';
      readonly path: string;
      readonly mode: number;
      readonly content: string | Uint8Array;
    }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | {
      readonly kind: 'chardev';
      readonly path: string;
      readonly mode: number;
      readonly major: number;
      readonly minor: number;
    };

/** Guest files (src/host/tiny-image/guest/) and where each lands in the image. */
const GUEST_FILES: readonly (readonly [file: string, path: string, mode: number])[] = [
  ['init', '/init', 0o755],
  ['rcS', '/etc/init.d/rcS', 0o755],
  ['rcK', '/etc/init.d/rcK', 0o755],
  ['inittab', '/etc/inittab', 0o644],
  ['functions.sh', '/usr/lib/nubes-tiny/functions.sh', 0o644],
  ['metadata.sh', '/usr/lib/nubes-tiny/metadata.sh', 0o644],
  ['json-flat.awk', '/usr/lib/nubes-tiny/json-flat.awk', 0o644],
  ['dhcp-nic', '/usr/lib/nubes-tiny/dhcp-nic', 0o755],
  ['nic-watch', '/usr/lib/nubes-tiny/nic-watch', 0o755],
  ['udhcpc.script', '/usr/share/udhcpc/default.script', 0o755],
  ['power-button', '/etc/acpi/PWRF/00000080', 0o755],
  ['passwd', '/etc/passwd', 0o644],
  ['group', '/etc/group', 0o644],
  ['shadow', '/etc/shadow', 0o600],
  ['shells', '/etc/shells', 0o644],
  ['profile', '/etc/profile', 0o644],
];

export const GUEST_DIR = new URL('./guest/', import.meta.url).pathname;

/** Module path inside the image: as in modules.dep, without a compression suffix. */
function plainModulePath(path: string): string {
  return path.replace(/\.(xz|zst|gz)$/, '');
}

/**
 * Every entry of the initramfs except /etc/nubes-tiny/version (added once the version is known).
 * Parent directories that are not listed are created 0755 by the archive writer.
 */
export async function guestTree(inputs: HostInputs, guestDir = GUEST_DIR): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [
    ...['/proc', '/sys', '/dev', '/run', '/data', '/mnt', '/var/log', '/etc/nubes-tiny'].map(
      (path) => ({ kind: 'dir' as const, path, mode: 0o755 }),
    ),
    { kind: 'dir', path: '/root', mode: 0o700 },
    { kind: 'dir', path: '/tmp', mode: 0o1777 },
    // The kernel opens /dev/console for /init before any devtmpfs is mounted.
    { kind: 'chardev', path: '/dev/console', mode: 0o600, major: 5, minor: 1 },
    { kind: 'symlink', path: '/var/run', target: '/run' },
    { kind: 'symlink', path: '/etc/mtab', target: '/proc/mounts' },
    { kind: 'data', path: '/etc/hostname', mode: 0o644, content: 'nubes-tiny\n' },
    { kind: 'data', path: '/etc/hosts', mode: 0o644, content: '127.0.0.1\tlocalhost\n' },
    { kind: 'data', path: '/etc/resolv.conf', mode: 0o644, content: '' },
  ];
  const known = new Set(await readdir(guestDir));
  for (const [file, path, mode] of GUEST_FILES) {
    if (!known.has(file)) throw new Error(`guest file ${join(guestDir, file)} is missing`);
    entries.push({ kind: 'file', path, mode, source: join(guestDir, file) });
  }

  entries.push({ kind: 'file', path: '/bin/busybox', mode: 0o755, source: inputs.busybox });
  for (const applet of inputs.applets)
    entries.push({ kind: 'symlink', path: `/${applet}`, target: '/bin/busybox' });

  entries.push({ kind: 'file', path: '/usr/sbin/dropbear', mode: 0o755, source: inputs.dropbear });
  entries.push({
    kind: 'file',
    path: '/usr/bin/dropbearkey',
    mode: 0o755,
    source: inputs.dropbearkey,
  });
  for (const lib of inputs.libraries)
    entries.push({ kind: 'file', path: lib.path, mode: 0o755, source: lib.source });

  const modRoot = `/lib/modules/${inputs.kernelRelease}`;
  for (const m of inputs.modules) {
    entries.push({
      kind: 'file',
      path: `${modRoot}/${plainModulePath(m.path)}`,
      mode: 0o644,
      source: join(inputs.modulesDir, m.path),
    });
  }
  entries.push({
    kind: 'data',
    path: '/etc/nubes-tiny/modules',
    mode: 0o644,
    content: inputs.modules.map((m) => `${plainModulePath(m.path)}\n`).join(''),
  });
  return entries;
}

/** Reads a source file, decompressing .xz/.zst/.gz kernel modules (the guest's insmod wants plain .ko). */
async function readSource(source: string, tmpDir: string): Promise<Buffer> {
  if (source.endsWith('.gz')) return gunzipSync(await readFile(source));
  if (source.endsWith('.zst')) {
    const out = join(tmpDir, `module-${randomUUID()}.ko`);
    await exec(['zstd', '-d', '-q', '-f', source, '-o', out], { timeoutMs: 60_000 });
    return readFile(out);
  }
  if (source.endsWith('.xz')) {
    // xz decompresses in place, next to the input: work on a copy in the build directory.
    const copy = join(tmpDir, `module-${randomUUID()}.ko.xz`);
    await copyFile(source, copy);
    await exec(['xz', '-d', '-f', '-q', copy], { timeoutMs: 60_000 });
    return readFile(copy.slice(0, -'.xz'.length));
  }
  return readFile(source);
}

export interface ResolvedEntry {
  readonly path: string;
  /** st_mode: file type bits and permissions. */
  readonly mode: number;
  readonly data: Uint8Array;
  readonly rdev?: readonly [number, number];
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Reads every source and adds missing parent directories; the result is sorted by path. */
export async function resolveTree(
  entries: readonly TreeEntry[],
  tmpDir: string,
): Promise<ResolvedEntry[]> {
  const out = new Map<string, ResolvedEntry>();
  for (const e of entries) {
    if (out.has(e.path)) throw new Error(`initramfs path ${e.path} listed twice`);
    switch (e.kind) {
      case 'dir':
        out.set(e.path, { path: e.path, mode: S_IFDIR | e.mode, data: new Uint8Array() });
        break;
      case 'file':
        out.set(e.path, {
          path: e.path,
          mode: S_IFREG | e.mode,
          data: await readSource(e.source, tmpDir),
        });
        break;
      case 'data':
        out.set(e.path, {
          path: e.path,
          mode: S_IFREG | e.mode,
          data: typeof e.content === 'string' ? Buffer.from(e.content) : e.content,
        });
        break;
      case 'symlink':
        out.set(e.path, { path: e.path, mode: S_IFLNK | 0o777, data: Buffer.from(e.target) });
        break;
      case 'chardev':
        out.set(e.path, {
          path: e.path,
          mode: S_IFCHR | e.mode,
          data: new Uint8Array(),
          rdev: [e.major, e.minor],
        });
        break;
    }
  }
  for (const path of [...out.keys()]) {
    for (let p = path.slice(0, path.lastIndexOf('/')); p; p = p.slice(0, p.lastIndexOf('/'))) {
      if (!out.has(p)) out.set(p, { path: p, mode: S_IFDIR | 0o755, data: new Uint8Array() });
      else if ((out.get(p)!.mode & S_IFDIR) !== S_IFDIR)
        throw new Error(`initramfs path ${p} is not a directory but ${path} is under it`);
    }
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function newcHeader(fields: readonly number[], name: string): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const head = `070701${fields.map((f) => (f >>> 0).toString(16).padStart(8, '0')).join('')}`;
  if (head.length !== 110) throw new Error('newc header must be 110 bytes');
  return Buffer.concat([
    Buffer.from(head, 'ascii'),
    nameBytes,
    Buffer.alloc(pad4(110 + nameBytes.length)),
  ]);
}

/**
 * A newc ("070701") cpio archive of `entries`: owner 0:0, every mtime `mtime`, inode numbers in
 * order, a root "." entry first. This is what the kernel unpacks as the initramfs.
 */
export function newcArchive(entries: readonly ResolvedEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const all: ResolvedEntry[] = [
    { path: '', mode: S_IFDIR | 0o755, data: new Uint8Array() },
    ...entries,
  ];
  all.forEach((e, i) => {
    const isDir = (e.mode & 0o170000) === S_IFDIR;
    const [rmaj, rmin] = e.rdev ?? [0, 0];
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    const fields = [
      i + 1,
      e.mode,
      0,
      0,
      isDir ? 2 : 1,
      mtime,
      e.data.length,
      0,
      0,
      rmaj,
      rmin,
      Buffer.byteLength(e.path === '' ? '.' : e.path.slice(1)) + 1,
      0,
    ];
    parts.push(newcHeader(fields, e.path === '' ? '.' : e.path.slice(1)));
    parts.push(
      Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength),
      Buffer.alloc(pad4(e.data.length)),
    );
  });
  parts.push(
    newcHeader([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 'TRAILER!!!'.length + 1, 0], 'TRAILER!!!'),
  );
  return Buffer.concat(parts);
}
