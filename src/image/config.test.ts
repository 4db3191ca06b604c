// The image section's import bounds and transfer sweep settings: defaults, units, and the check
// that a stall is at least two missed beats.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { imageSection } from './config.ts';
import { ConfigError } from '../platform/config/setting.ts';

const ctx = { env: {}, dataDir: '/data' };

it('defaults to 1 TiB, 2 imports per project, 2 GiB / 1 h CPU / 2 h, sweeps every minute', () => {
  const { image } = imageSection.resolve({}, ctx);
  assert.equal(image.sizeCapBytes, 1024 ** 4);
  assert.equal(image.importsPerProject, 2);
  assert.equal(image.importMemoryBytes, 2 * 1024 ** 3);
  assert.equal(image.importCpuSeconds, 3600);
  assert.equal(image.importTimeoutMs, 7200_000);
  assert.equal(image.transferSweepMs, 60_000);
  assert.equal(image.transferStalledMs, 300_000);
});

it('takes seconds and MiB, and refuses a stall shorter than two sweeps', () => {
  const { image } = imageSection.resolve(
    {
      'image.import_memory_mib': 512,
      'image.transfer_sweep_seconds': 1,
      'image.transfer_stalled_seconds': 3,
    },
    ctx,
  );
  assert.equal(image.importMemoryBytes, 512 * 1024 * 1024);
  assert.equal(image.transferSweepMs, 1000);
  assert.equal(image.transferStalledMs, 3000);
  assert.throws(
    () => imageSection.resolve({ 'image.transfer_stalled_seconds': 90 }, ctx),
    (e: unknown) => e instanceof ConfigError && /at least twice/.test(e.message),
  );
});
