// The file image store: one file per object in a directory (by default <data_dir>/images), written
// through a temp file and renamed when complete, so a reader never sees half an object. Data is
// streamed and hashed in one pass; nothing is held whole in memory.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFound, OverLimit } from '../../platform/errors.ts';
import type { ImageBackend, StoredData, WriteOptions } from './driver.ts';

const KEY = /^[0-9a-f]{32}$/;

/** Hashes (MD5 and SHA-512) and counts bytes as they pass; fails once more than `limit` pass. */
class Meter extends Transform {
  readonly md5 = createHash('md5');
  readonly sha512 = createHash('sha512');
  bytes = 0;
  #lastReport = 0;
  readonly limit: number;
  readonly onProgress: ((bytes: number) => void) | undefined;
  constructor(limit: number, onProgress?: (bytes: number) => void) { super(); this.limit = limit; this.onProgress = onProgress; }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      done(new OverLimit(`The image data is larger than the ${this.limit} bytes this project may still store; delete images or ask an operator to raise the image storage quota.`, 'image_quota_exceeded'));
      return;
    }
    this.md5.update(chunk);
    this.sha512.update(chunk);
    if (this.onProgress && this.bytes - this.#lastReport >= 64 * 1024 * 1024) { this.#lastReport = this.bytes; this.onProgress(this.bytes); }
    done(null, chunk);
  }
}

export function createFileBackend(root: string): ImageBackend {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const pathOf = (key: string): string => {
    // Keys come from our database, but a key is still checked before it becomes a path.
    if (!KEY.test(key)) throw new NotFound(`No image data with key ${JSON.stringify(key.slice(0, 64))}.`, 'image_data_not_found');
    return join(root, key);
  };

  async function store(source: Readable, opts: WriteOptions): Promise<StoredData> {
    const key = randomUUID().replaceAll('-', '');
    const tmp = join(root, `.tmp-${key}`);
    const meter = new Meter(opts.limit, opts.onProgress);
    try {
      await pipeline(source, meter, createWriteStream(tmp, { mode: 0o600, highWaterMark: 1024 * 1024 }));
      const fh = await open(tmp, 'r');
      try { await fh.sync(); } finally { await fh.close(); }
      await rename(tmp, pathOf(key));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { key, size: meter.bytes, md5: meter.md5.digest('hex'), sha512: meter.sha512.digest('hex') };
  }

  return {
    capabilities: { localFiles: true },
    write: store,
    async adopt(path) {
      const facts = await store(createReadStream(path, { highWaterMark: 1024 * 1024 }), { limit: Number.MAX_SAFE_INTEGER });
      await rm(path, { force: true });
      return facts;
    },
    async read(key, range) {
      const path = pathOf(key);
      const st = await stat(path).catch(() => undefined);
      if (!st) throw new NotFound('The image data is missing from the store; the image must be uploaded again.', 'image_data_not_found');
      return createReadStream(path, { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
    },
    async localPath(key) { return pathOf(key); },
    async size(key) { return (await stat(pathOf(key)).catch(() => undefined))?.size; },
    async delete(key) { await rm(pathOf(key), { force: true }); },
    scratchPath() { return join(root, `.tmp-${randomUUID().replaceAll('-', '')}`); },
  };
}
