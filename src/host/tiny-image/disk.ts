// The tiny image's whole disk, built from image files only (no mounts, no loop devices): a FAT
// boot partition made with mkfs.vfat + syslinux + mcopy, an empty ext4 data partition, an MBR
// written by mbr.ts, all placed at their offsets in a raw file and converted to qcow2.
import { copyFile, mkdir, open, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../exec.ts';
import { buildMbr, SECTOR } from './mbr.ts';

const MiB = 1024 * 1024;

/** Disk geometry in sectors. The boot partition starts at 1 MiB like every modern partitioner. */
export interface DiskLayout {
  readonly totalSectors: number;
  readonly boot: { readonly start: number; readonly sectors: number };
  readonly data: { readonly start: number; readonly sectors: number };
}

export const BOOT_LABEL = 'NUBES-BOOT';
export const DATA_LABEL = 'nubes-data';
const TOTAL_MiB = 128;
const MIN_BOOT_MiB = 32;
const MIN_DATA_MiB = 32;

/** A 128 MiB disk: a boot partition sized for kernel + initramfs with room to spare, the rest data. */
export function planLayout(kernelBytes: number, initrdBytes: number): DiskLayout {
  const bootMiB = Math.max(
    MIN_BOOT_MiB,
    Math.ceil(((kernelBytes + initrdBytes) * 1.3 + 2 * MiB) / (4 * MiB)) * 4,
  );
  const totalMiB = Math.max(TOTAL_MiB, 1 + bootMiB + MIN_DATA_MiB);
  const s = MiB / SECTOR;
  return {
    totalSectors: totalMiB * s,
    boot: { start: s, sectors: bootMiB * s },
    data: { start: (1 + bootMiB) * s, sectors: (totalMiB - 1 - bootMiB) * s },
  };
}

export function syslinuxConfig(cmdline: string): string {
  // No prompt and no timeout: the guest boots straight away; the serial line carries the output.
  return [
    'SERIAL 0 115200',
    'DEFAULT nubes',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL nubes',
    '  LINUX /vmlinuz',
    '  INITRD /initrd.gz',
    `  APPEND ${cmdline}`,
    '',
  ].join('\n');
}

export interface DiskInputs {
  readonly workDir: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
  readonly mbrCode: string;
  readonly layout: DiskLayout;
  /** Every timestamp written into the filesystems (seconds since 1970; FAT cannot go before 1980). */
  readonly epoch: number;
  /** 32-bit FAT volume id and MBR disk signature. */
  readonly volumeId: number;
  /** ext4 filesystem UUID, also its directory hash seed. */
  readonly dataUuid: string;
  readonly out: string;
  readonly log: (line: string) => void;
}

/** Fixed environment for the filesystem tools: reproducible times, no user config, no locale. */
export function toolEnv(epoch: number): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    TZ: 'UTC',
    SOURCE_DATE_EPOCH: String(epoch),
    // mtools refuses image files whose size is not a whole number of "tracks".
    MTOOLS_SKIP_CHECK: '1',
    // e2fsprogs 1.47.0 takes its clock from this (SOURCE_DATE_EPOCH only from 1.47.1 on).
    E2FSPROGS_FAKE_TIME: String(epoch),
  };
}

async function buildBootFs(d: DiskInputs, file: string): Promise<void> {
  const env = toolEnv(d.epoch);
  await writeFile(file, '');
  await truncate(file, d.layout.boot.sectors * SECTOR);
  const volid = d.volumeId.toString(16).padStart(8, '0');
  // -h: the partition's start, which syslinux's boot sector adds to every sector it reads.
  await exec(
    [
      'mkfs.vfat',
      '--invariant',
      '-F',
      '16',
      '-n',
      BOOT_LABEL,
      '-i',
      volid,
      '-h',
      String(d.layout.boot.start),
      file,
    ],
    { env },
  );
  await exec(['syslinux', '--install', file], { env });
  const files = join(d.workDir, 'boot-files');
  await mkdir(files, { recursive: true });
  const staged = [
    [d.kernel, join(files, 'vmlinuz')],
    [d.initrd, join(files, 'initrd.gz')],
  ] as const;
  for (const [from, to] of staged) await copyFile(from, to);
  await writeFile(join(files, 'syslinux.cfg'), syslinuxConfig(d.cmdline));
  const names = ['syslinux.cfg', 'vmlinuz', 'initrd.gz'].map((n) => join(files, n));
  for (const n of names) await utimes(n, d.epoch, d.epoch);
  // -m keeps the (fixed) modification times instead of stamping the current time.
  await exec(['mcopy', '-m', '-o', '-i', file, ...names, '::/'], { env });
}

async function buildDataFs(d: DiskInputs, file: string): Promise<void> {
  const env = toolEnv(d.epoch);
  await writeFile(file, '');
  await truncate(file, d.layout.data.sectors * SECTOR);
  // lazy_itable_init=0: mkfs zeroes the inode tables here (zeros cost nothing in qcow2) instead of
  // the guest kernel doing it in the background after the first mount, into every overlay.
  await exec(
    [
      'mkfs.ext4',
      '-q',
      '-F',
      '-L',
      DATA_LABEL,
      '-U',
      d.dataUuid,
      '-m',
      '0',
      '-b',
      '4096',
      '-E',
      `root_owner=0:0,hash_seed=${d.dataUuid},lazy_itable_init=0,nodiscard`,
      file,
    ],
    { env },
  );
}

/** Copies `from` into `fd` at byte `offset`, skipping all-zero blocks so the raw file stays sparse. */
async function place(
  fd: Awaited<ReturnType<typeof open>>,
  from: string,
  offset: number,
): Promise<void> {
  const src = await open(from, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    for (let pos = 0; ; pos += MiB) {
      const { bytesRead } = await src.read(buf, 0, MiB, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (chunk.some((b) => b !== 0)) await fd.write(chunk, 0, bytesRead, offset + pos);
    }
  } finally {
    await src.close();
  }
}

/** Builds the whole-disk qcow2 at `d.out`. Intermediate files stay in `d.workDir`. */
export async function buildDisk(d: DiskInputs): Promise<void> {
  const boot = join(d.workDir, 'boot.img');
  const data = join(d.workDir, 'data.img');
  const raw = join(d.workDir, 'disk.raw');
  d.log('tiny image: boot partition (FAT16, syslinux)');
  await buildBootFs(d, boot);
  d.log('tiny image: data partition (ext4)');
  await buildDataFs(d, data);

  // syslinux's mbr.bin is exactly the 440 bytes of boot code before the disk signature.
  const mbr = buildMbr(
    await readPrefix(d.mbrCode, 440),
    [
      { start: d.layout.boot.start, sectors: d.layout.boot.sectors, type: 0x0e, bootable: true },
      { start: d.layout.data.start, sectors: d.layout.data.sectors, type: 0x83 },
    ],
    d.volumeId,
  );

  await writeFile(raw, '');
  await truncate(raw, d.layout.totalSectors * SECTOR);
  const fd = await open(raw, 'r+');
  try {
    await fd.write(mbr, 0, mbr.length, 0);
    await place(fd, boot, d.layout.boot.start * SECTOR);
    await place(fd, data, d.layout.data.start * SECTOR);
  } finally {
    await fd.close();
  }
  d.log('tiny image: qcow2');
  await exec(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, d.out], {
    env: toolEnv(d.epoch),
    timeoutMs: 120_000,
  });
}

async function readPrefix(file: string, max: number): Promise<Buffer> {
  const fd = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fd.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}
