import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuCgroupLayout, limitCpu, removeCgroup, weightOfShares } from './cgroups.ts';

it('maps v1 shares to v2 weights as the kernel does', () => {
  assert.equal(weightOfShares(2), 1);
  assert.equal(weightOfShares(1024), 39);
  assert.equal(weightOfShares(262_144), 10_000);
});

it('puts a process into a cgroup of its own with a CPU cap, and removes the group after', async (t) => {
  const layout = await cpuCgroupLayout();
  if (!layout || process.getuid?.() !== 0) {
    t.skip(`no writable cpu cgroup controller here (${layout ? 'not root' : 'none found'})`);
    return;
  }
  const child = spawn('sleep', ['30']);
  t.after(() => child.kill('SIGKILL'));
  const name = `test-${process.pid}`;
  const dir = await limitCpu(layout, name, child.pid!, {
    quotaUs: 50_000,
    periodUs: 100_000,
    shares: 512,
  });
  assert.ok(
    readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(child.pid)),
  );
  if (layout.version === 2) {
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8').trim(), '50000 100000');
  } else {
    assert.equal(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
    assert.equal(readFileSync(join(dir, 'cpu.shares'), 'utf8').trim(), '512');
  }
  await assert.rejects(
    limitCpu(layout, '../escape', child.pid!, { quotaUs: 1, periodUs: null, shares: null }),
    /not a plain name/,
  );
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, 50));
  await removeCgroup(layout, name);
  assert.throws(() => readFileSync(join(dir, 'cgroup.procs')), /ENOENT/);
  await removeCgroup(layout, name);
});
