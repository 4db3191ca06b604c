// A worker thread that hashes image data with SHA-512 while the main thread computes MD5 and writes
// the bytes, so the two digests Glance reports cost one core's time each instead of both on one.
// Messages in: an ArrayBuffer of data, or null at the end. Out: the bytes hashed (an ack), then the hex digest.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const hash = createHash('sha512');
parentPort!.on('message', (data: ArrayBuffer | null) => {
  if (data === null) {
    parentPort!.postMessage({ digest: hash.digest('hex') });
    return;
  }
  hash.update(new Uint8Array(data));
  parentPort!.postMessage({ ack: data.byteLength });
});
