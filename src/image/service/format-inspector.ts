// Reads the first bytes of uploaded data and says what format it really is, and whether it is
// safe to hand to qemu: a qcow2 with a backing file or an external data file, or a vmdk whose
// extents live outside the file, would make qemu read host files (the CVE-2022-47951 class). This
// runs before qemu-img ever opens the data, and never follows any reference inside it.
import { open } from 'node:fs/promises';

export type DetectedFormat = 'qcow2' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi' | 'iso' | 'ploop' | 'raw';

export interface Inspection {
  readonly format: DetectedFormat;
  /** Why the data must not be used, or null when it is safe. */
  readonly unsafe: string | null;
}

const VMDK_ALLOWED_TYPES = new Set(['monolithicSparse', 'streamOptimized']);
const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;
const QCOW2_EXT_DATA_FILE = 0x44415441;

async function readAt(
  fh: import('node:fs/promises').FileHandle,
  pos: number,
  len: number,
): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, pos);
  return buf.subarray(0, bytesRead);
}

function qcow2Safety(head: Buffer): string | null {
  if (head.length < 72) return 'the qcow2 header is truncated';
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) return `qcow2 version ${version} is not supported`;
  if (head.readBigUInt64BE(8) !== 0n) return 'the qcow2 image names a backing file';
  if (version === 3) {
    if (head.length < 104) return 'the qcow2 header is truncated';
    if ((head.readBigUInt64BE(72) & QCOW2_INCOMPAT_DATA_FILE) !== 0n)
      return 'the qcow2 image uses an external data file';
    // Header extensions follow the header; a data-file name there is refused as well.
    let off = head.readUInt32BE(100);
    while (off + 8 <= head.length) {
      const type = head.readUInt32BE(off);
      const len = head.readUInt32BE(off + 4);
      if (type === 0) break;
      if (type === QCOW2_EXT_DATA_FILE) return 'the qcow2 image names an external data file';
      off += 8 + Math.ceil(len / 8) * 8;
    }
  }
  return null;
}

/** Checks a vmdk's descriptor: an allowed createType and exactly one extent, inside this file. */
export function vmdkDescriptorSafety(descriptor: string): string | null {
  const type = /^\s*createType\s*=\s*"([^"]*)"/m.exec(descriptor)?.[1];
  if (!type) return 'the vmdk descriptor has no createType';
  if (!VMDK_ALLOWED_TYPES.has(type))
    return `vmdk createType "${type}" is not allowed (only ${[...VMDK_ALLOWED_TYPES].join(', ')})`;
  const extents = descriptor.split('\n').filter((l) => /^\s*(RW|RDONLY|NOACCESS)\s/.test(l));
  if (extents.length !== 1)
    return `the vmdk has ${extents.length} extents; only single-extent images are allowed`;
  if (!/^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+SPARSE(\s|$)/.test(extents[0]!))
    return 'the vmdk extent is not a sparse extent inside the file';
  return null;
}

async function vmdkSafety(
  fh: import('node:fs/promises').FileHandle,
  head: Buffer,
): Promise<string | null> {
  if (head.length < 44) return 'the vmdk header is truncated';
  const descOffset = Number(head.readBigUInt64LE(28));
  const descSize = Number(head.readBigUInt64LE(36));
  if (descOffset === 0 || descSize === 0) {
    // streamOptimized images may carry the descriptor at the end; without one, nothing points out.
    return null;
  }
  if (descSize > 2048) return 'the vmdk descriptor is implausibly large';
  const text = (await readAt(fh, descOffset * 512, descSize * 512))
    .toString('latin1')
    .replace(/\0+$/, '');
  return vmdkDescriptorSafety(text);
}

/** Inspects the file at `path`. Reads at most a few hundred KiB; never follows references. */
export async function inspectImageFile(path: string): Promise<Inspection> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, 64 * 1024);
    const magic = head.subarray(0, 8).toString('latin1');
    if (magic.startsWith('QFI\xfb')) return { format: 'qcow2', unsafe: qcow2Safety(head) };
    if (magic.startsWith('KDMV')) return { format: 'vmdk', unsafe: await vmdkSafety(fh, head) };
    if (head.subarray(0, 512).toString('latin1').includes('# Disk DescriptorFile')) {
      // A bare descriptor's data is all in other files: exactly the attack to refuse.
      return {
        format: 'vmdk',
        unsafe:
          vmdkDescriptorSafety(head.subarray(0, 64 * 1024).toString('latin1')) ??
          'the vmdk is a bare descriptor whose data lives in other files',
      };
    }
    if (magic === 'vhdxfile') return { format: 'vhdx', unsafe: null };
    if (magic === 'conectix') return { format: 'vhd', unsafe: null };
    if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f)
      return { format: 'vdi', unsafe: null };
    if (magic === 'WithoutF' || magic === 'WithouFr') return { format: 'ploop', unsafe: null };
    if (size >= 32769 + 5 && (await readAt(fh, 32769, 5)).toString('latin1') === 'CD001')
      return { format: 'iso', unsafe: null };
    if (size >= 512 && (await readAt(fh, size - 512, 8)).toString('latin1') === 'conectix')
      return { format: 'vhd', unsafe: null };
    return { format: 'raw', unsafe: null };
  } finally {
    await fh.close();
  }
}

/** Whether data detected as `detected` may be registered under the claimed `disk_format`. */
export function formatMatches(claimed: string, detected: DetectedFormat): boolean {
  switch (claimed) {
    // Kernels, ramdisks and raw disks are plain bytes; an ISO is raw sectors too.
    case 'raw':
      return detected === 'raw' || detected === 'iso';
    case 'aki':
    case 'ari':
    case 'ami':
      return detected === 'raw';
    default:
      return claimed === detected;
  }
}
