// The two digests of an image write. A large write hashes off the event loop: MD5 and SHA-512
// each in a worker thread of its own, fed the same pooled blocks in turn (main → md5 → sha512 →
// main), so both run on their own cores beside the write, with one copy of each byte and no
// allocation per block. A small one hashes in place: workers cost more than they save there.
import { createHash } from 'node:crypto';
import { MessageChannel, Worker } from 'node:worker_threads';

/**
 * Writes expected to be at least this large hash in workers; smaller ones (the nubes-tiny images,
 * metadata-sized uploads) on the event loop, in the chunks they arrive in (64 MiB of MD5 and
 * SHA-512 cost it about 0.2 s, a fraction of a millisecond per chunk). The first worker threads a
 * process starts keep some 10-20 MiB of its memory for good (V8 and malloc state that outlives
 * them): `nubes up` registering nubes-tiny at start ended 50 MiB larger when it did.
 */
export const WORKERS_FROM_BYTES = 64 * 1024 * 1024;

/** Bytes a block holds: incoming chunks (64 KiB from a socket) are gathered to this size first. */
export const BLOCK_BYTES = 1024 * 1024;
/** Blocks one write may have in flight, so at most 8 MiB waits for a slow hash. */
const POOL_BLOCKS = 8;

/** A block travelling between the threads; `length` bytes of it are data. */
interface BlockMessage {
  readonly block: ArrayBuffer;
  readonly length: number;
}

/**
 * The code of each worker. It runs from its source text (`eval`), as plain JavaScript: a worker
 * started from a .ts file would load Node's TypeScript stripper into its thread, some 17 MiB of
 * memory and 50 ms per worker for ten lines. So it may use nothing from this module's scope.
 * It hashes every block from `input`, hands the block on to `output`, and at the end (null) posts
 * its hex digest to the parent and passes the end on.
 */
function hashWorker(): void {
  const threads = require('node:worker_threads') as typeof import('node:worker_threads');
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const parent = threads.parentPort!;
  const data = threads.workerData as {
    algorithm: string;
    input?: MessagePort;
    output?: MessagePort;
  };
  const input = data.input ?? parent;
  const output = data.output ?? parent;
  const hash = crypto.createHash(data.algorithm);
  input.on('message', (m: BlockMessage | null) => {
    if (m === null) {
      parent.postMessage({ digest: hash.digest('hex') });
      if (output !== parent) output.postMessage(null);
      return;
    }
    hash.update(new Uint8Array(m.block, 0, m.length));
    output.postMessage(m, [m.block]);
  });
}
const WORKER_SOURCE = `(${hashWorker.toString()})()`;

export interface HashChain {
  /** Whether the hashes run in worker threads (large or unsized writes) or on the event loop. */
  readonly inWorkers: boolean;
  /**
   * Copies `chunk` into blocks and sends each full one to be hashed. Resolves at once unless every
   * block is in flight; then once one came back (the write's backpressure).
   */
  feed(chunk: Uint8Array): Promise<void> | undefined;
  /** The hex digests of everything fed; stops the workers. Call once, after the last feed. */
  digests(): Promise<{ md5: string; sha512: string }>;
  /** Stops the workers without digests (the write failed). */
  abandon(): Promise<void>;
}

/**
 * The hashing of one write of `expectedBytes` (undefined when unknown: a chunked upload);
 * `onError` hears a worker's failure.
 */
export function startHashing(
  expectedBytes: number | undefined,
  onError: (e: Error) => void,
): HashChain {
  return expectedBytes !== undefined && expectedBytes < WORKERS_FROM_BYTES
    ? hashInPlace()
    : startHashChain(onError);
}

function hashInPlace(): HashChain {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  return {
    inWorkers: false,
    feed(chunk) {
      md5.update(chunk);
      sha512.update(chunk);
      return undefined;
    },
    async digests() {
      return { md5: md5.digest('hex'), sha512: sha512.digest('hex') };
    },
    async abandon() {},
  };
}

function startHashChain(onError: (e: Error) => void): HashChain {
  const link = new MessageChannel();
  const md5 = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { algorithm: 'md5', output: link.port1 },
    transferList: [link.port1],
  });
  const sha512 = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { algorithm: 'sha512', input: link.port2 },
    transferList: [link.port2],
  });
  const free: ArrayBuffer[] = [];
  let made = 0;
  let current: Uint8Array<ArrayBuffer> | null = null;
  let filled = 0;
  let waiting: (() => void) | null = null;
  let failed: Error | null = null;
  const digestOf = (w: Worker) =>
    new Promise<string>((resolve, reject) => {
      w.on('message', (m: BlockMessage | { digest: string }) => {
        if ('digest' in m) resolve(m.digest);
        else {
          free.push(m.block);
          const go = waiting;
          waiting = null;
          go?.();
        }
      });
      w.once('error', (e: Error) => {
        failed = e;
        reject(e);
        onError(e);
        const go = waiting;
        waiting = null;
        go?.();
      });
    });
  const digests = [digestOf(md5), digestOf(sha512)] as const;
  for (const d of digests) d.catch(() => undefined);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([md5.terminate(), sha512.terminate()]);
    // The pool's memory goes back now, not at some later garbage collection.
    for (const b of free.splice(0)) b.transfer(0);
  };

  const send = () => {
    md5.postMessage({ block: current!.buffer, length: filled } satisfies BlockMessage, [
      current!.buffer,
    ]);
    current = null;
    filled = 0;
  };
  /** A block to fill: a returned one, a new one while fewer than the pool exist, else wait. */
  const nextBlock = (): boolean => {
    const b = free.pop() ?? (made < POOL_BLOCKS ? (made++, new ArrayBuffer(BLOCK_BYTES)) : null);
    if (b) current = new Uint8Array(b);
    return b !== null;
  };

  const feed = (chunk: Uint8Array, from: number): Promise<void> | undefined => {
    let off = from;
    while (off < chunk.length) {
      if (failed) return Promise.reject(failed);
      if (!current && !nextBlock())
        return new Promise<void>((resolve) => (waiting = resolve)).then(() => feed(chunk, off));
      const n = Math.min(chunk.length - off, BLOCK_BYTES - filled);
      current!.set(chunk.subarray(off, off + n), filled);
      filled += n;
      off += n;
      if (filled === BLOCK_BYTES) send();
    }
    return undefined;
  };

  return {
    inWorkers: true,
    feed: (chunk) => feed(chunk, 0),
    async digests() {
      if (filled > 0) send();
      md5.postMessage(null);
      try {
        const [m, s] = await Promise.all(digests);
        return { md5: m, sha512: s };
      } finally {
        await stop();
      }
    },
    abandon: stop,
  };
}
