// The image store seam: where image data lives. The file driver (file.ts) keeps it in the data
// directory; an S3-compatible driver can come later behind the same interface. A backend only
// stores bytes: hashing, quota and progress are a stream stage above it (service/hashing.ts).
// backend.contract.ts checks every driver against the promises below.
import type { Readable } from 'node:stream';

/** An object the backend wrote. */
export interface StoredObject {
  /** The store's key; opaque to callers, never shown to users. */
  readonly key: string;
  readonly size: number;
}

export interface ImageBackend {
  readonly capabilities: {
    /** `localPath` returns the stored file itself (no copy), so host tools can read it in place. */
    readonly localFiles: boolean;
  };
  /**
   * Streams `source` into a new object under a new key. The data is complete and durable when
   * this resolves; when the source fails (or anything else does), it rejects with that error and
   * nothing is left behind, not even a partial object.
   */
  write(source: Readable): Promise<StoredObject>;
  /** Reads bytes [start, end] inclusive (the whole object without a range). Missing → NotFound. */
  read(key: string, range?: { readonly start: number; readonly end: number }): Promise<Readable>;
  /** A path on this host where the object's bytes can be read, for inspection with qemu-img. */
  localPath(key: string): Promise<string>;
  /** The object's size in bytes, or undefined if it does not exist. */
  size(key: string): Promise<number | undefined>;
  /** Removes the object; removing a missing object succeeds. */
  delete(key: string): Promise<void>;
  /**
   * A fresh path for a temporary file on the same filesystem (a conversion's output), kept alive
   * like a write in progress until the caller removes it with `remove()`.
   */
  scratch(): Scratch;
  /**
   * Marks this process's writes in progress (and scratch files) as alive, so that another
   * process's `removeAbandoned` leaves them be however slowly their bytes come.
   */
  keepAlive(): Promise<void>;
  /**
   * Removes partial writes and scratch files that nothing has written or kept alive for
   * `olderThanMs` (their process stopped); the transfer sweep calls it. Returns how many.
   */
  removeAbandoned(olderThanMs: number): Promise<number>;
}

/** A temporary file of the backend's (see `scratch`). */
export interface Scratch {
  readonly path: string;
  /** Removes the file (if it was made) and stops keeping it alive. */
  remove(): Promise<void>;
}
