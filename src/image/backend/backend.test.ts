// The file backend against the image backend contract, in a fresh directory per case, and how it
// tells a stopped process's temp files from a live one's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImageBackendContract } from './backend.contract.ts';
import { createFileBackend } from './file.ts';

runImageBackendContract('file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nubes-image-backend-'));
  const dir = join(root, 'images');
  return {
    backend: createFileBackend(dir),
    contents: async () => readdirSync(dir).sort(),
    close: async () => rmSync(root, { recursive: true, force: true }),
  };
});

describe('file backend temp files', () => {
  it('removes those nothing kept alive, and keeps what a live scratch holds', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nubes-image-backend-'));
    try {
      const backend = createFileBackend(root);
      // Another process (the same directory, shared between api replicas) is converting.
      const other = createFileBackend(root);
      const kept = other.scratch();
      writeFileSync(kept.path, 'converting');
      const old = new Date(Date.now() - 3600_000);
      utimesSync(kept.path, old, old);
      // A partial write of a process that stopped.
      const orphan = join(root, `.tmp-${'0'.repeat(32)}`);
      writeFileSync(orphan, 'half');
      utimesSync(orphan, old, old);
      const fresh = join(root, `.tmp-${'1'.repeat(32)}`);
      writeFileSync(fresh, 'just written');
      await other.keepAlive();
      assert.equal(await backend.removeAbandoned(60_000), 1);
      assert.equal(existsSync(orphan), false, 'the abandoned temp file is gone');
      assert.equal(existsSync(kept.path), true, "the other process's live scratch file stays");
      assert.equal(existsSync(fresh), true, 'a recently written temp file stays');
      await kept.remove();
      assert.equal(existsSync(kept.path), false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
