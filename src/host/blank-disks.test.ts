import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from './exec.ts';
import { makeEphemeralDisk, makeSwapDisk } from './blank-disks.ts';

it('makes a sparse ext4 ephemeral disk and a swap disk that blkid recognises', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nubes-blank-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const eph = join(dir, 'eph.raw');
  await makeEphemeralDisk(eph, 1 << 30);
  assert.equal(statSync(eph).size, 1 << 30);
  assert.ok(
    statSync(eph).blocks * 512 < 64 << 20,
    'sparse: only the filesystem metadata is written',
  );
  const e = await exec(['blkid', '-o', 'export', eph]);
  assert.match(e.stdout, /^TYPE=ext4$/m);
  assert.match(e.stdout, /^LABEL=ephemeral0$/m);
  const swap = join(dir, 'swap.raw');
  await makeSwapDisk(swap, 64 << 20);
  assert.match((await exec(['blkid', '-o', 'export', swap])).stdout, /^TYPE=swap$/m);
  await assert.rejects(makeSwapDisk(swap, 64 << 20), /EEXIST/, 'never overwrites a disk');
});
