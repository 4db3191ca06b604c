// The hashing stage above the backend: the digests Glance reports, the quota cut-off, and a failed
// write leaving nothing in the backend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createFileBackend } from '../backend/file.ts';
import { adoptFile, writeHashed } from './hashing.ts';

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

describe('writeHashed', () => {
  it('stores the bytes and reports their size, MD5 and SHA-512', () =>
    withStore(async (root) => {
      const backend = createFileBackend(join(root, 'images'));
      const bytes = randomBytes(9 * 1024 * 1024 + 3);
      const stored = await writeHashed(backend, chunks(bytes), { limit: bytes.length });
      assert.equal(stored.size, bytes.length);
      assert.equal(stored.md5, createHash('md5').update(bytes).digest('hex'));
      assert.equal(stored.sha512, createHash('sha512').update(bytes).digest('hex'));
      assert.equal(await backend.size(stored.key), bytes.length);
    }));

  it('refuses data past the limit with image_quota_exceeded and keeps nothing', () =>
    withStore(async (root) => {
      const backend = createFileBackend(join(root, 'images'));
      await assert.rejects(writeHashed(backend, chunks(randomBytes(300_000)), { limit: 200_000 }), {
        status: 413,
        code: 'image_quota_exceeded',
      });
      assert.deepEqual(readdirSync(join(root, 'images')), []);
    }));

  it("fails with the source's error and keeps nothing", () =>
    withStore(async (root) => {
      const backend = createFileBackend(join(root, 'images'));
      const source = new Readable({ read() {} });
      source.push(randomBytes(50_000));
      setImmediate(() => source.destroy(new Error('connection reset')));
      await assert.rejects(writeHashed(backend, source, { limit: 1e9 }), /connection reset/);
      assert.deepEqual(readdirSync(join(root, 'images')), []);
    }));
});

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
