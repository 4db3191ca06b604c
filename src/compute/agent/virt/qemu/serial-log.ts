// The serial console log of a QEMU guest, kept bounded. QEMU appends to serial.log for as long as
// it runs (and it may run for months), so the driver rotates it: once it passes the limit its
// bytes move to serial.log.1 and serial.log is cut to nothing. QEMU opened the file with
// O_APPEND, so its next write lands at the new end. Reads join the two files' tails.
import { copyFile, open, stat, truncate } from 'node:fs/promises';

const rotated = (path: string) => `${path}.1`;

/** Rotates `path` when it is over `maxBytes`; true when it did. At most 2 × maxBytes stay on disk. */
export async function rotateSerialLog(path: string, maxBytes: number): Promise<boolean> {
  const size = await stat(path).then((s) => s.size, () => 0);
  if (size <= maxBytes) return false;
  // What the guest writes between the copy and the cut is lost: a few bytes, once per rotation.
  await copyFile(path, rotated(path));
  await truncate(path, 0);
  return true;
}

async function tail(path: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return Buffer.alloc(0);
  try {
    const size = (await fh.stat()).size;
    const want = Math.min(size, maxBytes);
    const buf = Buffer.alloc(want);
    const { bytesRead } = await fh.read(buf, 0, want, size - want);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The last `maxBytes` of the console, across a rotation (the older file first). */
export async function readSerialTail(path: string, maxBytes: number): Promise<string> {
  const now = await tail(path, maxBytes);
  const before = now.length < maxBytes ? await tail(rotated(path), maxBytes - now.length) : Buffer.alloc(0);
  return Buffer.concat([before, now]).toString('utf8');
}
