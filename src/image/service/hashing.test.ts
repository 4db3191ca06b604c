// The hashing stage above the backend: the digests Glance reports, the quota cut-off, and a failed
// write leaving nothing in the backend, with the hashes in worker threads (large or unsized writes)
// and on the event loop (small ones) alike.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createFileBackend } from '../backend/file.ts';
import { adoptFile, writeHashed } from './hashing.ts';
import { BLOCK_BYTES, startHashing, WORKERS_FROM_BYTES } from './hash-chain.ts';

async function withStore(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'nubes-hashing-'));
  try {
    await fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const chunks = (bytes: Buffer) =>
  Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]);

/** A source of `bytes` in chunks of `size` (a socket gives 64 KiB; odd sizes cross block edges). */
const chunked = (bytes: Buffer, size: number) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');

describe('startHashing', () => {
  it('hashes writes known to be small on the event loop, large and unsized ones in workers', async () => {
    for (const [expected, inWorkers] of [
      [0, false],
      [WORKERS_FROM_BYTES - 1, false],
      [WORKERS_FROM_BYTES, true],
      [undefined, true],
    ] as const) {
      const h = startHashing(expected, (e) => assert.fail(e));
      assert.equal(h.inWorkers, inWorkers, `expected ${expected}`);
      h.feed(Buffer.from('abc'));
      assert.deepEqual(await h.digests(), {
        md5: md5(Buffer.from('abc')),
        sha512: sha512(Buffer.from('abc')),
      });
    }
  });

  it('gives the digests of nothing when nothing was fed', async () => {
    const h = startHashing(undefined, (e) => assert.fail(e));
    assert.deepEqual(await h.digests(), {
      md5: md5(Buffer.alloc(0)),
      sha512: sha512(Buffer.alloc(0)),
    });
  });
});

for (const [mode, expectedBytes] of [
  ['in worker threads', undefined],
  ['on the event loop', 1],
] as const) {
  describe(`writeHashed, hashing ${mode}`, () => {
    it('stores the bytes and reports their size, MD5 and SHA-512', () =>
      withStore(async (root) => {
        const backend = createFileBackend(join(root, 'images'));
        const bytes = randomBytes(9 * 1024 * 1024 + 3);
        const stored = await writeHashed(backend, chunks(bytes), {
          limit: bytes.length,
          expectedBytes,
        });
        assert.equal(stored.size, bytes.length);
        assert.equal(stored.md5, md5(bytes));
        assert.equal(stored.sha512, sha512(bytes));
        assert.equal(await backend.size(stored.key), bytes.length);
      }));

    it('hashes chunks of every size across block edges, more blocks than are in flight at once', () =>
      withStore(async (root) => {
        const backend = createFileBackend(join(root, 'images'));
        // 12 blocks and a bit: the 8 pooled blocks go round, so a slow hash holds the source back.
        const bytes = randomBytes(12 * BLOCK_BYTES + 12_345);
        for (const size of [1000, 64 * 1024, BLOCK_BYTES, BLOCK_BYTES + 1, 3 * BLOCK_BYTES - 7]) {
          const stored = await writeHashed(backend, chunked(bytes, size), {
            limit: bytes.length,
            expectedBytes,
          });
          assert.equal(stored.md5, md5(bytes), `chunks of ${size}`);
          assert.equal(stored.sha512, sha512(bytes), `chunks of ${size}`);
          assert.equal(stored.size, bytes.length);
        }
      }));

    it('refuses data past the limit with image_quota_exceeded and keeps nothing', () =>
      withStore(async (root) => {
        const backend = createFileBackend(join(root, 'images'));
        await assert.rejects(
          writeHashed(backend, chunks(randomBytes(300_000)), { limit: 200_000, expectedBytes }),
          { status: 413, code: 'image_quota_exceeded' },
        );
        assert.deepEqual(readdirSync(join(root, 'images')), []);
      }));

    it("fails with the source's error and keeps nothing", () =>
      withStore(async (root) => {
        const backend = createFileBackend(join(root, 'images'));
        const source = new Readable({ read() {} });
        // More than the pool of blocks holds, so the failure finds hashes in flight.
        source.push(randomBytes(9 * BLOCK_BYTES));
        setImmediate(() => source.destroy(new Error('connection reset')));
        await assert.rejects(
          writeHashed(backend, source, { limit: 1e9, expectedBytes }),
          /connection reset/,
        );
        assert.deepEqual(readdirSync(join(root, 'images')), []);
      }));
  });
}

describe('adoptFile', () => {
  it('moves a local file into the store, hashed, and removes the file', () =>
    withStore(async (root) => {
      const backend = createFileBackend(join(root, 'images'));
      const bytes = randomBytes(70_000);
      const path = join(root, 'converted.qcow2');
      writeFileSync(path, bytes);
      const stored = await adoptFile(backend, path);
      assert.equal(stored.md5, createHash('md5').update(bytes).digest('hex'));
      assert.equal(existsSync(path), false);
      assert.equal(await backend.size(stored.key), bytes.length);
    }));
});
