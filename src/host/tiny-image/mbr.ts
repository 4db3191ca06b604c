// The first sector of the tiny image: syslinux's boot code plus a classic MBR partition table,
// computed here byte by byte so no partitioning tool (sfdisk needs the fdisk package) is involved.

export const SECTOR = 512;

export interface MbrPartition {
  /** First sector (LBA). */
  readonly start: number;
  /** Length in sectors. */
  readonly sectors: number;
  /** Partition type byte: 0x0e FAT16 (LBA), 0x0c FAT32 (LBA), 0x83 Linux. */
  readonly type: number;
  readonly bootable?: boolean;
}

/** CHS address of an LBA for the usual 255 heads x 63 sectors geometry; past cylinder 1023 it saturates. */
function chs(lba: number): [number, number, number] {
  const c = Math.floor(lba / (255 * 63));
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / 63) % 255;
  const s = (lba % 63) + 1;
  return [h, ((c >> 2) & 0xc0) | s, c & 0xff];
}

/**
 * Sector 0: `bootCode` (at most 440 bytes, syslinux mbr.bin), a fixed disk signature (so the bytes
 * are reproducible), up to four partition entries and the 0x55AA boot signature.
 */
export function buildMbr(
  bootCode: Uint8Array,
  partitions: readonly MbrPartition[],
  diskSignature: number,
): Buffer {
  if (bootCode.length > 440)
    throw new Error(`MBR boot code is ${bootCode.length} bytes, more than 440`);
  if (partitions.length > 4) throw new Error('an MBR holds at most four primary partitions');
  const mbr = Buffer.alloc(SECTOR);
  mbr.set(bootCode, 0);
  mbr.writeUInt32LE(diskSignature >>> 0, 440);
  partitions.forEach((p, i) => {
    const at = 446 + i * 16;
    const end = p.start + p.sectors - 1;
    mbr[at] = p.bootable ? 0x80 : 0x00;
    mbr.set(chs(p.start), at + 1);
    mbr[at + 4] = p.type;
    mbr.set(chs(end), at + 5);
    mbr.writeUInt32LE(p.start, at + 8);
    mbr.writeUInt32LE(p.sectors, at + 12);
  });
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}
