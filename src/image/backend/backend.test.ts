// The file backend against the image backend contract, in a fresh directory per case, and what is
// its own: writes longer than its background-sync interval, short writes resumed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { runImageBackendContract } from './backend.contract.ts';
import { createFileBackend, SYNC_EVERY, unwritten } from './file.ts';

runImageBackendContract('file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nubes-image-backend-'));
  const dir = join(root, 'images');
  return {
    backend: createFileBackend(dir),
    contents: async () => readdirSync(dir).sort(),
    close: async () => rmSync(root, { recursive: true, force: true }),
  };
});

describe('file backend', () => {
  it('writes an object several background syncs long, owner-only, and nothing else', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nubes-image-backend-'));
    try {
      const dir = join(root, 'images');
      const backend = createFileBackend(dir);
      const block = randomBytes(1024 * 1024);
      const blocks = 2 * (SYNC_EVERY / block.length) + 3;
      const sum = createHash('md5');
      const source = Readable.from(
        (function* () {
          for (let i = 0; i < blocks; i++) {
            const b = Buffer.from(block);
            b.writeUInt32LE(i, 0);
            sum.update(b);
            yield b;
          }
        })(),
      );
      const { key, size } = await backend.write(source);
      assert.equal(size, blocks * block.length);
      assert.deepEqual(readdirSync(dir), [key]);
      const path = join(dir, key);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(createHash('md5').update(readFileSync(path)).digest('hex'), sum.digest('hex'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('resumes a short write where it stopped', () => {
    const parts = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')];
    const rest = (n: number) => Buffer.concat(unwritten(parts, n)).toString();
    assert.equal(rest(0), 'abcdefgh');
    assert.equal(rest(2), 'cdefgh');
    assert.equal(rest(3), 'defgh');
    assert.equal(rest(5), 'fgh');
    assert.equal(rest(7), 'h');
  });
});
