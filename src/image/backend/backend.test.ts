// The file backend against the image backend contract, in a fresh directory per case.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
