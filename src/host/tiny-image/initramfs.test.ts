// Unit tests of the initramfs layout and the newc cpio writer (checked against GNU cpio when installed).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exec, haveCommand } from '../exec.ts';
import type { HostInputs } from './host-inputs.ts';
import { guestTree, newcArchive, resolveTree, type ResolvedEntry } from './initramfs.ts';

interface Parsed {
  name: string;
  mode: number;
  uid: number;
  mtime: number;
  rdev: [number, number];
  data: Buffer;
}

/** A minimal newc reader: checks magic, 4-byte alignment and the trailer while it goes. */
function parseNewc(buf: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  const align = (n: number) => n + ((4 - (n % 4)) % 4);
  for (;;) {
    assert.equal(buf.toString('ascii', at, at + 6), '070701', `magic at ${at}`);
    const f = (i: number) => parseInt(buf.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const namesize = f(11);
    const size = f(6);
    const name = buf.toString('utf8', at + 110, at + 110 + namesize - 1);
    const dataAt = align(at + 110 + namesize);
    if (name === 'TRAILER!!!') {
      assert.equal(align(dataAt) % 4, 0);
      return out;
    }
    out.push({
      name,
      mode: f(1),
      uid: f(2),
      mtime: f(5),
      rdev: [f(9), f(10)],
      data: buf.subarray(dataAt, dataAt + size),
    });
    at = align(dataAt + size);
  }
}

const entries: ResolvedEntry[] = [
  { path: '/bin', mode: 0o040755, data: new Uint8Array() },
  { path: '/bin/sh', mode: 0o120777, data: Buffer.from('/bin/busybox') },
  { path: '/dev/console', mode: 0o020600, data: new Uint8Array(), rdev: [5, 1] },
  { path: '/init', mode: 0o100755, data: Buffer.from('#!/bin/sh\necho odd-length\n') },
];

test('newc archive: root entry first, owner 0, fixed mtime, device numbers, padded data, trailer', () => {
  const parsed = parseNewc(newcArchive(entries, 946684800));
  assert.deepEqual(
    parsed.map((p) => p.name),
    ['.', 'bin', 'bin/sh', 'dev/console', 'init'],
  );
  assert.ok(parsed.every((p) => p.uid === 0 && p.mtime === 946684800));
  assert.deepEqual(parsed[3]!.rdev, [5, 1]);
  assert.equal(parsed[2]!.data.toString(), '/bin/busybox');
  assert.equal(parsed[4]!.data.toString(), '#!/bin/sh\necho odd-length\n');
  assert.deepEqual(newcArchive(entries, 946684800), newcArchive(entries, 946684800));
});

test(
  'GNU cpio reads the archive with the same names, modes and link targets',
  { skip: !(await haveCommand('cpio')) && 'cpio is not installed' },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nubes-newc-'));
    try {
      await writeFile(join(dir, 'a.cpio'), newcArchive(entries, 946684800));
      const { stdout } = await exec(['cpio', '-itv', '--quiet', '-F', join(dir, 'a.cpio')], {
        env: { LC_ALL: 'C', TZ: 'UTC', PATH: '/usr/bin:/bin' },
      });
      const lines = stdout.trim().split('\n');
      assert.match(lines[0]!, /^drwxr-xr-x .* \.$/);
      assert.match(lines[2]!, /^lrwxrwxrwx .* bin\/sh -> \/bin\/busybox$/);
      assert.match(lines[3]!, /^crw------- .* 5,\s+1 .* dev\/console$/);
      assert.match(lines[4]!, /^-rwxr-xr-x .* 26 Jan\s+1\s+2000 init$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('the guest tree has /init, busybox without a self link, ordered modules and implied parents', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nubes-tree-'));
  try {
    const fake = (name: string) => {
      const p = join(dir, name);
      return writeFile(p, name).then(() => p);
    };
    const inputs: HostInputs = {
      kernelRelease: '6.1.0-test',
      kernel: await fake('vmlinuz'),
      modulesDir: dir,
      modules: [
        { name: 'virtio', path: 'virtio.ko', deps: [] },
        { name: 'virtio_blk', path: 'virtio_blk.ko', deps: ['virtio'] },
      ],
      busybox: await fake('busybox'),
      applets: ['bin/sh', 'sbin/init', 'usr/bin/wget'],
      busyboxVersion: '1',
      dropbear: await fake('dropbear'),
      dropbearkey: await fake('dropbearkey'),
      dropbearVersion: '1',
      libraries: [{ path: '/lib64/ld-linux-x86-64.so.2', source: await fake('ld.so') }],
      syslinuxMbr: await fake('mbr.bin'),
      syslinux: await fake('syslinux'),
      syslinuxVersion: '1',
    };
    await fake('virtio.ko');
    await fake('virtio_blk.ko');
    const tree = await resolveTree(await guestTree(inputs), dir);
    const byPath = new Map(tree.map((e) => [e.path, e]));
    assert.equal(byPath.get('/init')!.mode, 0o100755);
    assert.equal(byPath.get('/bin/sh')!.mode, 0o120777);
    assert.equal(Buffer.from(byPath.get('/bin/sh')!.data).toString(), '/bin/busybox');
    assert.equal(byPath.get('/bin/busybox')!.mode, 0o100755);
    assert.equal(byPath.get('/root')!.mode, 0o040700);
    assert.equal(byPath.get('/tmp')!.mode, 0o041777);
    assert.deepEqual(byPath.get('/dev/console')!.rdev, [5, 1]);
    assert.equal(byPath.get('/usr/lib/nubes-tiny')!.mode, 0o040755, 'implied parent directory');
    assert.equal(
      Buffer.from(byPath.get('/etc/nubes-tiny/modules')!.data).toString(),
      'virtio.ko\nvirtio_blk.ko\n',
    );
    assert.ok(byPath.has('/lib/modules/6.1.0-test/virtio_blk.ko'));
    assert.ok(byPath.has('/etc/acpi/PWRF/00000080'));
    assert.deepEqual(
      tree.map((e) => e.path),
      [...tree.map((e) => e.path)].sort(),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
