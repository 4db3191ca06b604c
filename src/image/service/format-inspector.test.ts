// The format inspector against real files made by qemu-img (every format it writes) and against
// hand-made attacks: what each file really is, and which ones must never reach qemu.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuImgCreate } from '../../host/qemu-img.ts';
import { exec } from '../../host/exec.ts';
import { formatMatches, inspectImageFile, vmdkDescriptorSafety } from './format-inspector.ts';

describe('format inspector', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nubes-inspect-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names every format qemu-img writes and finds them safe', async () => {
    for (const [fmt, expected, opts] of [
      ['qcow2', 'qcow2', []],
      ['vmdk', 'vmdk', []],
      ['vpc', 'vhd', []],
      ['vhdx', 'vhdx', []],
      ['vdi', 'vdi', []],
      ['raw', 'raw', []],
      ['qcow2', 'qcow2', ['-o', 'compat=0.10']],
      ['vmdk', 'vmdk', ['-o', 'subformat=streamOptimized']],
    ] as const) {
      const path = join(dir, `${fmt}-${opts.length}.img`);
      await exec(['qemu-img', 'create', '-q', '-f', fmt, ...opts, path, '8M']);
      const found = await inspectImageFile(path);
      assert.deepEqual(found, { format: expected, unsafe: null }, `${fmt} ${opts.join(' ')}`);
    }
  });

  it('refuses qcow2 backing files and data files, and vmdk extents outside the file', async () => {
    const backed = join(dir, 'backed.qcow2');
    await qemuImgCreate(backed, 'qcow2', 1 << 20, { backing: '/etc/passwd', backingFormat: 'raw' });
    assert.match((await inspectImageFile(backed)).unsafe ?? '', /backing file/);
    const withData = join(dir, 'data.qcow2');
    await qemuImgCreate(withData, 'qcow2', 1 << 20, { dataFile: join(dir, 'data.raw') });
    assert.match((await inspectImageFile(withData)).unsafe ?? '', /data file/);
    const flat = join(dir, 'flat.vmdk');
    writeFileSync(
      flat,
      '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/shadow" 0\n',
    );
    assert.deepEqual(await inspectImageFile(flat), {
      format: 'vmdk',
      unsafe:
        'vmdk createType "monolithicFlat" is not allowed (only monolithicSparse, streamOptimized)',
    });
    assert.match(
      vmdkDescriptorSafety(
        'createType="monolithicSparse"\nRW 10 SPARSE "a.vmdk"\nRW 10 SPARSE "/dev/sda"\n',
      ) ?? '',
      /2 extents/,
    );
    assert.match(
      vmdkDescriptorSafety('createType="monolithicSparse"\nRW 10 FLAT "/etc/passwd" 0\n') ?? '',
      /not a sparse extent/,
    );
    assert.equal(
      vmdkDescriptorSafety('createType="monolithicSparse"\nRW 10 SPARSE "disk.vmdk"\n'),
      null,
    );
  });

  it('recognises an ISO and matches claims like Glance, but strictly', async () => {
    const iso = join(dir, 'x.iso');
    const b = Buffer.alloc(40 * 2048);
    b.write('\x01CD001', 16 * 2048, 'latin1');
    writeFileSync(iso, b);
    assert.equal((await inspectImageFile(iso)).format, 'iso');
    assert.ok(
      formatMatches('iso', 'iso') && formatMatches('raw', 'iso') && formatMatches('aki', 'raw'),
    );
    assert.ok(
      !formatMatches('raw', 'qcow2') &&
        !formatMatches('qcow2', 'raw') &&
        !formatMatches('aki', 'qcow2'),
    );
  });
});
