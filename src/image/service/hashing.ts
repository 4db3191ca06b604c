// The stream stage every image write goes through, above the storage backend: it counts the bytes
// against the quota, reports progress, and hashes them in the same pass (MD5 here, SHA-512 in a
// worker thread), so any backend (file today, an object store later) only stores bytes.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { OverLimit } from '../../platform/errors.ts';
import type { ImageBackend, StoredObject } from '../backend/driver.ts';

/** What a hashed write learnt, in one pass over the bytes. */
export interface StoredData extends StoredObject {
  /** Hex MD5 (Glance's legacy `checksum`). */
  readonly md5: string;
  /** Hex SHA-512 (`os_hash_value` with `os_hash_algo` 'sha512'). */
  readonly sha512: string;
}

export interface HashedWriteOptions {
  /** Most bytes accepted; past it the write fails with OverLimit (413) and leaves nothing. */
  readonly limit: number;
  /** Called now and then with the bytes written so far. */
  readonly onProgress?: (bytes: number) => void;
}

// Bytes handed to the SHA-512 worker but not hashed yet; past this the upload waits for it, so a
// slow hash can never queue up memory.
const MAX_IN_FLIGHT = 8 * 1024 * 1024;

/**
 * Hashes (MD5 here, SHA-512 in a worker thread) and counts bytes as they pass; fails once more
 * than `limit` pass. `digests()` resolves once the stream has ended.
 */
class HashingStage extends Transform {
  readonly md5 = createHash('md5');
  readonly #sha512 = new Worker(new URL('./sha512-worker.ts', import.meta.url));
  bytes = 0;
  #inFlight = 0;
  #waiting: (() => void) | null = null;
  #lastReport = 0;
  readonly limit: number;
  readonly onProgress: ((bytes: number) => void) | undefined;
  readonly #digest: Promise<string>;

  constructor(opts: HashedWriteOptions) {
    super();
    this.limit = opts.limit;
    this.onProgress = opts.onProgress;
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

/**
 * Streams `source` through the hashing stage into a new object of `backend`. On any failure (the
 * source's, the limit's, the backend's) it rejects with that error and leaves no object behind.
 */
export async function writeHashed(
  backend: ImageBackend,
  source: Readable,
  opts: HashedWriteOptions,
): Promise<StoredData> {
  const stage = new HashingStage(opts);
  // A failing source or stage destroys both with the error, which the backend's write then sees.
  const feeding = pipeline(source, stage);
  feeding.catch(() => undefined); // its error is the one the backend's write rejects with
  let stored: StoredObject;
  try {
    stored = await backend.write(stage);
  } catch (e) {
    // A backend that gave up without reading to the end must not leave the source waiting.
    stage.destroy();
    await feeding.catch(() => undefined);
    await stage.abandon();
    throw e;
  }
  try {
    await feeding;
    return { ...stored, ...(await stage.digests()) };
  } catch (e) {
    await stage.abandon();
    await backend.delete(stored.key);
    throw e;
  }
}

/** Moves a finished local file (a conversion's output) into `backend`, hashing it on the way. */
export async function adoptFile(backend: ImageBackend, path: string): Promise<StoredData> {
  const stored = await writeHashed(
    backend,
    createReadStream(path, { highWaterMark: 1024 * 1024 }),
    { limit: Number.MAX_SAFE_INTEGER },
  );
  await rm(path, { force: true });
  return stored;
}
