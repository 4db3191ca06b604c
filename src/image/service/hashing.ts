// The stream stage every image write goes through, above the storage backend: it counts the bytes
// against the quota, reports progress, and hashes them in the same pass (MD5 and SHA-512 in worker
// threads, hash-chain.ts), so any backend (file today, an object store later) only stores bytes.
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OverLimit } from '../../platform/errors.ts';
import type { ImageBackend, StoredObject } from '../backend/driver.ts';
import { startHashing, type HashChain } from './hash-chain.ts';

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
  /** The size the source says it has, if it says: small writes hash without worker threads. */
  readonly expectedBytes?: number | undefined;
}

/**
 * Counts bytes as they pass, failing once more than `limit` did, and feeds them to the hash
 * workers (hash-chain.ts). It passes each chunk on as it came; `digests()` resolves once the
 * stream has ended.
 */
class HashingStage extends Transform {
  readonly #hashes: HashChain;
  bytes = 0;
  #lastReport = 0;
  readonly limit: number;
  readonly onProgress: ((bytes: number) => void) | undefined;

  constructor(opts: HashedWriteOptions) {
    super();
    this.limit = opts.limit;
    this.onProgress = opts.onProgress;
    this.#hashes = startHashing(opts.expectedBytes, (e) => this.destroy(e));
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
    if (this.onProgress && this.bytes - this.#lastReport >= 64 * 1024 * 1024) {
      this.#lastReport = this.bytes;
      this.onProgress(this.bytes);
    }
    const fed = this.#hashes.feed(chunk);
    if (fed) fed.then(() => done(null, chunk), done);
    else done(null, chunk);
  }

  /** The hex MD5 and SHA-512 of everything that passed; call after the stream ended. */
  digests(): Promise<{ md5: string; sha512: string }> {
    return this.#hashes.digests();
  }

  /** Stops the workers when the write failed. */
  abandon(): Promise<void> {
    return this.#hashes.abandon();
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
    {
      limit: Number.MAX_SAFE_INTEGER,
      expectedBytes: (await stat(path)).size,
    },
  );
  await rm(path, { force: true });
  return stored;
}
