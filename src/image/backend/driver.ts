// The image store seam: where image data lives. The file driver (file.ts) keeps it in the data
// directory; an S3-compatible driver can come later behind the same interface.
import type { Readable } from 'node:stream';

/** What the store learnt while writing data, in one pass over the bytes. */
export interface StoredData {
  /** The store's key; opaque to callers, never shown to users. */
  readonly key: string;
  readonly size: number;
  /** Hex MD5 (Glance's legacy `checksum`). */
  readonly md5: string;
  /** Hex SHA-512 (`os_hash_value` with `os_hash_algo` 'sha512'). */
  readonly sha512: string;
}

export interface WriteOptions {
  /** Most bytes accepted; the write fails with OverLimit (413) past it and leaves nothing behind. */
  readonly limit: number;
  /** Called now and then with the bytes written so far. */
  readonly onProgress?: (bytes: number) => void;
}

export interface ImageBackend {
  readonly capabilities: {
    /** `localPath` returns the stored file itself (no copy), so host tools can read it in place. */
    readonly localFiles: boolean;
  };
  /**
   * Streams `source` into a new object and resolves with its facts. The data is complete and
   * durable when this resolves; on any failure (source error, limit, disk full) nothing is left.
   */
  write(source: Readable, opts: WriteOptions): Promise<StoredData>;
  /** Moves a finished local file (e.g. a conversion's output) into the store; hashes it on the way. */
  adopt(path: string): Promise<StoredData>;
  /** Reads bytes [start, end] inclusive (the whole object without a range). Missing → NotFound. */
  read(key: string, range?: { readonly start: number; readonly end: number }): Promise<Readable>;
  /** A path on this host where the object's bytes can be read, for inspection with qemu-img. */
  localPath(key: string): Promise<string>;
  /** The object's size in bytes, or undefined if it does not exist. */
  size(key: string): Promise<number | undefined>;
  /** Removes the object; removing a missing object succeeds. */
  delete(key: string): Promise<void>;
  /** A fresh path for a temporary file on the same filesystem (for conversions), removed by the caller. */
  scratchPath(): string;
}
