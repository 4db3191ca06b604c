// The blank disks a flavor gives an instance besides its root: an ephemeral disk with an ext4
// filesystem labelled `ephemeral0` (what cloud-init and Nova's libvirt driver give a Linux guest)
// and a swap disk made with mkswap. Both are sparse raw files: they cost only what the guest writes.
import { open, rm } from 'node:fs/promises';
import { exec } from './exec.ts';

async function sparseFile(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.truncate(sizeBytes);
  } finally {
    await fh.close();
  }
}

export async function makeEphemeralDisk(path: string, sizeBytes: number): Promise<void> {
  await sparseFile(path, sizeBytes);
  try {
    await exec(
      [
        'mkfs.ext4',
        '-q',
        '-F',
        '-L',
        'ephemeral0',
        '-E',
        'lazy_itable_init=1,lazy_journal_init=1',
        path,
      ],
      { timeoutMs: 120_000 },
    );
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}

export async function makeSwapDisk(path: string, sizeBytes: number): Promise<void> {
  await sparseFile(path, sizeBytes);
  try {
    await exec(['mkswap', '-L', 'swap0', path]);
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}
