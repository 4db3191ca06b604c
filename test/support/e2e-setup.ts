// Global setup of the e2e runs (node --test --test-global-setup): builds the nubes-tiny image into
// the cache every `nubes up` uses, once, before the files start at once. Otherwise several of them
// would build it side by side inside `nubes up`, each against its start-up deadline.
import { join } from 'node:path';
import { loadConfig } from '../../src/cli/config.ts';
import { buildTinyImage } from '../../src/host/tiny-image/build-tiny-image.ts';

export async function globalSetup(): Promise<void> {
  const t = performance.now();
  try {
    // The cache a `nubes up` started by the tests finds (they run with this environment).
    const config = loadConfig({ flags: {}, env: process.env });
    const img = await buildTinyImage({ cacheDir: join(config.cacheDir, 'tiny-image') });
    process.stderr.write(
      `e2e setup: nubes-tiny ${img.version.slice(0, 12)} ready (${Math.round(performance.now() - t)} ms)\n`,
    );
  } catch (e) {
    // Not fatal: without the host tools the files that boot guests say why they skip.
    process.stderr.write(`e2e setup: no nubes-tiny image (${(e as Error).message})\n`);
  }
}
