// The serial console log of a QEMU guest, kept bounded. QEMU appends to serial.log for as long as
// it runs (and it may run for months), so the driver rotates it: once it passes the limit its
// newest bytes (up to the limit) move to serial.log.1 and serial.log is cut to nothing. QEMU opened
// the file with O_APPEND, so its next write lands at the new end. Reads join the two files' tails.
import { open, rename, stat, truncate, writeFile } from 'node:fs/promises';

const rotated = (path: string) => `${path}.1`;

/**
 * Rotates `path` when it is over `maxBytes`; true when it did. At most 2 × maxBytes stay on disk
 * (plus what the guest writes until the next rotation).
 */
export async function rotateSerialLog(path: string, maxBytes: number): Promise<boolean> {
  const size = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  if (size <= maxBytes) return false;
  // Only the newest maxBytes move: a guest can write far more than the limit between two rotations
  // (a boot, a burst), and the older bytes are never read back (readSerialTail stops at maxBytes).
  // Written aside and renamed, so a reader sees the old serial.log.1 or the new one, never half.
  await writeFile(`${rotated(path)}.tmp`, await tail(path, maxBytes), { mode: 0o600 });
  await rename(`${rotated(path)}.tmp`, rotated(path));
  // What the guest writes between the copy and the cut is lost: a few bytes, once per rotation.
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
  const before =
    now.length < maxBytes ? await tail(rotated(path), maxBytes - now.length) : Buffer.alloc(0);
  return Buffer.concat([before, now]).toString('utf8');
}
