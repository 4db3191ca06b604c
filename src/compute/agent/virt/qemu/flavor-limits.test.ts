import { it } from 'node:test';
import assert from 'node:assert/strict';
import { flavorLimits } from './flavor-limits.ts';

it("reads Nova's quota:* extra specs into disk and CPU limits, and refuses what QEMU would", () => {
  assert.deepEqual(flavorLimits({}), { disk: null, cpu: null });
  assert.deepEqual(
    flavorLimits({
      'hw:cpu_policy': 'shared',
      'quota:disk_read_iops_sec': '500',
      'quota:disk_write_bytes_sec': '10485760',
      'quota:cpu_quota': '50000',
    }),
    {
      disk: { iopsRead: 500, bpsWrite: 10485760 },
      cpu: { quotaUs: 50000, periodUs: null, shares: null },
    },
  );
  assert.throws(
    () => flavorLimits({ 'quota:disk_total_iops_sec': 'lots' }),
    /quota:disk_total_iops_sec=lots must be a whole number/,
  );
  assert.throws(() => flavorLimits({ 'quota:cpu_quota': '10' }), /at least 1000/);
  assert.throws(
    () => flavorLimits({ 'quota:disk_total_bytes_sec': '1000', 'quota:disk_read_bytes_sec': '10' }),
    /cannot be combined/,
  );
});
