// The file image store: one file per object in a directory (by default <data_dir>/images), written
// through a temp file and renamed when complete, so a reader never sees half an object. Data is
// streamed and hashed in one pass; nothing is held whole in memory.
import { createHash, randomUUID } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFound, OverLimit } from '../../platform/errors.ts';
import type { ImageBackend, StoredData, WriteOptions } from './driver.ts';

const KEY = /^[0-9a-f]{32}$/;

// Bytes handed to the SHA-512 worker but not hashed yet; past this the upload waits for it, so a
// slow hash can never queue up memory.
const MAX_IN_FLIGHT = 8 * 1024 * 1024;

/**
 * Hashes (MD5 here, SHA-512 in a worker thread) and counts bytes as they pass; fails once more
 * than `limit` pass. `digests()` resolves once the stream has ended.
 */
class Meter extends Transform {
  readonly md5 = createHash('md5');
  readonly #sha512 = new Worker(new URL('./sha512-worker.ts', import.meta.url));
  bytes = 0;
  #inFlight = 0;
  #waiting: (() => void) | null = null;
  #lastReport = 0;
  readonly limit: number;
  readonly onProgress: ((bytes: number) => void) | undefined;
  readonly #digest: Promise<string>;

  constructor(limit: number, onProgress?: (bytes: number) => void) {
    super();
    this.limit = limit;
    this.onProgress = onProgress;
    this.#digest = new Promise((resolve, reject) => {
      this.#sha512.on('message', (m: { ack?: number; digest?: string }) => {
        if (m.ack !== undefined) {
          this.#inFlight -= m.ack;
          if (this.#waiting && this.#inFlight <= MAX_IN_FLIGHT) {
            const go = this.#waiting;
            this.#waiting = null;
            go();
          }
        }
        if (m.digest !== undefined) resolve(m.digest);
      });
      this.#sha512.once('error', reject);
    });
    this.#digest.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      done(
        new OverLimit(
          `The image data is larger than the ${this.limit} bytes this project may still store; delete images or ask an operator to raise the image storage quota.`,
          'image_quota_exceeded',
        ),
      );
      return;
    }
    this.md5.update(chunk);
    const copy = new Uint8Array(chunk).buffer as ArrayBuffer;
    this.#inFlight += copy.byteLength;
    this.#sha512.postMessage(copy, [copy]);
    if (this.onProgress && this.bytes - this.#lastReport >= 64 * 1024 * 1024) {
      this.#lastReport = this.bytes;
      this.onProgress(this.bytes);
    }
    if (this.#inFlight > MAX_IN_FLIGHT) this.#waiting = () => done(null, chunk);
    else done(null, chunk);
  }

  /** The hex MD5 and SHA-512 of everything that passed; call after the stream ended. */
  async digests(): Promise<{ md5: string; sha512: string }> {
    this.#sha512.postMessage(null);
    try {
      return { md5: this.md5.digest('hex'), sha512: await this.#digest };
    } finally {
      await this.#sha512.terminate();
    }
  }

  /** Stops the worker when the write failed. */
  async abandon(): Promise<void> {
    await this.#sha512.terminate();
  }
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

  async function store(source: Readable, opts: WriteOptions): Promise<StoredData> {
    const key = randomUUID().replaceAll('-', '');
    const tmp = join(root, `.tmp-${key}`);
    const meter = new Meter(opts.limit, opts.onProgress);
    let digests;
    try {
      await pipeline(
        source,
        meter,
        createWriteStream(tmp, { mode: 0o600, highWaterMark: 1024 * 1024 }),
      );
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      digests = await meter.digests();
      await rename(tmp, pathOf(key));
    } catch (e) {
      await meter.abandon();
      await rm(tmp, { force: true });
      throw e;
    }
    return { key, size: meter.bytes, ...digests };
  }

  return {
    capabilities: { localFiles: true },
    write: store,
    async adopt(path) {
      const facts = await store(createReadStream(path, { highWaterMark: 1024 * 1024 }), {
        limit: Number.MAX_SAFE_INTEGER,
      });
      await rm(path, { force: true });
      return facts;
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
