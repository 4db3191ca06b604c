// The file image store: one file per object in a directory (by default <data_dir>/images), written
// through a temp file and renamed when complete, so a reader never sees half an object. Data is
// streamed; nothing is held whole in memory.
import { randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFound } from '../../platform/errors.ts';
import type { ImageBackend, StoredObject } from './driver.ts';

const KEY = /^[0-9a-f]{32}$/;

/**
 * Bytes written between two background syncs. The page cache would otherwise hold a whole upload
 * dirty until the final fsync (a 1 GiB image is far below the kernel's own writeback threshold on
 * a host with memory to spare), and the image would wait for the disk only after the last byte:
 * writing back as the data arrives lets the disk work while the bytes are still being received and
 * hashed, and the final fsync waits only for the tail.
 */
export const SYNC_EVERY = 32 * 1024 * 1024;

/**
 * Writes a stream to an open file with writev (the chunks that queued while a write ran go in one
 * call), starting an fdatasync every SYNC_EVERY bytes, one at a time, while more arrives.
 */
class FileSink extends Writable {
  readonly #fh: FileHandle;
  #unsynced = 0;
  #syncing: Promise<void> | null = null;
  #syncError: unknown = null;

  constructor(fh: FileHandle) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.#fh = fh;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.#writeAll([chunk]).then(() => done(), done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    this.#writeAll(chunks.map((c) => c.chunk)).then(() => done(), done);
  }

  async #writeAll(buffers: Buffer[]): Promise<void> {
    if (this.#syncError) throw this.#syncError;
    let left = buffers.reduce((n, b) => n + b.length, 0);
    let rest = buffers;
    for (;;) {
      const { bytesWritten } = await this.#fh.writev(rest);
      this.#unsynced += bytesWritten;
      left -= bytesWritten;
      if (left === 0) break;
      rest = unwritten(rest, bytesWritten);
    }
    if (this.#unsynced >= SYNC_EVERY && !this.#syncing) {
      this.#unsynced = 0;
      this.#syncing = this.#fh
        .datasync()
        .catch((e: unknown) => void (this.#syncError = e))
        .finally(() => (this.#syncing = null));
    }
  }

  /** Waits for a background sync still running (the file may be closed after). */
  async idle(): Promise<void> {
    await this.#syncing;
  }

  /** Waits for a background sync still running; throws what one of them met. */
  async settled(): Promise<void> {
    await this.idle();
    if (this.#syncError) throw this.#syncError;
  }
}

/** What of `buffers` is left after `written` bytes of them went out (a short write). */
export function unwritten(buffers: Buffer[], written: number): Buffer[] {
  let skip = written;
  let i = 0;
  while (skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  return [buffers[i]!.subarray(skip), ...buffers.slice(i + 1)];
}

/** Temp files a stopped process left behind; a live writer touches its file far more often than this. */
const ABANDONED_MS = 3600_000;

export function createFileBackend(root: string): ImageBackend {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.tmp-')) continue;
    const st = statSync(join(root, name), { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > ABANDONED_MS) rmSync(join(root, name), { force: true });
  }
  const pathOf = (key: string): string => {
    // Keys come from our database, but a key is still checked before it becomes a path.
    if (!KEY.test(key))
      throw new NotFound(
        `No image data with key ${JSON.stringify(key.slice(0, 64))}.`,
        'image_data_not_found',
      );
    return join(root, key);
  };

  return {
    capabilities: { localFiles: true },
    async write(source: Readable): Promise<StoredObject> {
      const key = randomUUID().replaceAll('-', '');
      const tmp = join(root, `.tmp-${key}`);
      try {
        const fh = await open(tmp, 'wx', 0o600);
        const sink = new FileSink(fh);
        let size: number;
        try {
          await pipeline(source, sink);
          await sink.settled();
          await fh.sync();
          size = (await fh.stat()).size;
        } finally {
          await sink.idle();
          await fh.close();
        }
        await rename(tmp, pathOf(key));
        return { key, size };
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    },
    async read(key, range) {
      const path = pathOf(key);
      const st = await stat(path).catch(() => undefined);
      if (!st)
        throw new NotFound(
          'The image data is missing from the store; the image must be uploaded again.',
          'image_data_not_found',
        );
      return createReadStream(path, {
        highWaterMark: 1024 * 1024,
        ...(range ? { start: range.start, end: range.end } : {}),
      });
    },
    async localPath(key) {
      return pathOf(key);
    },
    async size(key) {
      return (await stat(pathOf(key)).catch(() => undefined))?.size;
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    scratchPath() {
      return join(root, `.tmp-${randomUUID().replaceAll('-', '')}`);
    },
  };
}
