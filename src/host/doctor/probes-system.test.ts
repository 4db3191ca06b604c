// The system probes: Node against package.json's engines, the cgroup layouts (v2, v1, hybrid) and
// what this machine has, and the data dir's free space and write access.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Check } from './check.ts';
import { exec } from '../exec.ts';
import {
  atLeast,
  describeCgroups,
  parseCgroupMounts,
  probeCgroups,
  probeDataDir,
  probeDataDirMode,
  probeNode,
} from './probes-system.ts';

describe('node', () => {
  it('compares versions by major, then minor', () => {
    assert.ok(atLeast('26.10.0', [24, 7]));
    assert.ok(atLeast('24.7.0', [24, 7]));
    assert.ok(!atLeast('24.6.9', [24, 7]));
    assert.ok(!atLeast('20.19.0', [24, 7]));
  });

  it('is ok for the Node running this test, with node:sqlite, and essential', async () => {
    const c = await probeNode();
    assert.equal(c.status, 'ok');
    assert.equal(c.essential, true);
    assert.ok(c.detail.startsWith(`v${process.versions.node} `));
    assert.match(c.detail, /node:sqlite works \(SQLite 3\.\d+/);
  });

  it("says no (essential) to a Node older than package.json's engines", async () => {
    const engines = (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        engines: { node: string };
      }
    ).engines.node;
    const c = await probeNode('20.19.0');
    assert.equal(c.status, 'no');
    assert.equal(c.essential, true);
    assert.ok(c.detail.includes(`needs >= ${/\d+\.\d+/.exec(engines)![0]}`), c.detail);
    assert.match(c.fix ?? '', /bin\/nubes/);
  });
});

const V2 =
  '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
const V1 = [
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '38 31 0:35 / /sys/fs/cgroup/blkio ro,relatime - cgroup cgroup rw,blkio',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
].join('\n');
const HYBRID_V2 = '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw';
const all = () => true;

describe('cgroups', () => {
  it('reads v1 controllers from the super options, named hierarchies aside, and ro mounts as ro', () => {
    const m = parseCgroupMounts(V1);
    assert.deepEqual([...m.v1.keys()].sort(), ['blkio', 'cpu', 'cpuacct', 'memory']);
    assert.deepEqual(m.v1.get('cpu'), { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', rw: true });
    assert.equal(m.v1.get('blkio')!.rw, false);
    assert.deepEqual(m.v2, []);
  });

  it('reports a unified v2 host with its controllers', () => {
    const c = describeCgroups(
      parseCgroupMounts(V2),
      new Map([['/sys/fs/cgroup', ['cpuset', 'cpu', 'io', 'memory', 'pids']]]),
      all,
    );
    assert.equal(c.status, 'ok');
    assert.equal(
      c.detail,
      'v2 (unified) at /sys/fs/cgroup; usable: cpu (v2), memory (v2), io (v2)',
    );
  });

  it('warns about a v2 controller that is not enabled', () => {
    const c = describeCgroups(
      parseCgroupMounts(V2),
      new Map([['/sys/fs/cgroup', ['cpu', 'memory']]]),
      all,
    );
    assert.equal(c.status, 'warn');
    assert.match(c.detail, /; not available: io$/);
    assert.match(c.fix ?? '', /without io limits; use a host with cgroup v2/);
    assert.ok(c.fix);
  });

  it('reports v1, and a controller mounted read-only as not usable', () => {
    const c = describeCgroups(parseCgroupMounts(V1), new Map(), all);
    assert.equal(c.status, 'warn');
    assert.equal(
      c.detail,
      'v1; usable: cpu (v1), memory (v1); read-only or not writable by this user: io',
    );
  });

  it('reports hybrid, taking each controller from whichever side has it', () => {
    const m = parseCgroupMounts(`${V1}\n${HYBRID_V2}`);
    const c = describeCgroups(m, new Map([['/sys/fs/cgroup/unified', ['io', 'hugetlb']]]), all);
    assert.equal(c.status, 'ok');
    assert.equal(
      c.detail,
      'hybrid; cgroup2 at /sys/fs/cgroup/unified has io hugetlb; usable: cpu (v1), memory (v1), io (v2)',
    );
  });

  it('says no when no cgroup filesystem is mounted, and not writable when access is denied', () => {
    assert.equal(
      describeCgroups(parseCgroupMounts('22 1 0:5 / /proc rw - proc proc rw'), new Map(), all)
        .status,
      'no',
    );
    const c = describeCgroups(
      parseCgroupMounts(V2),
      new Map([['/sys/fs/cgroup', ['cpu', 'io', 'memory']]]),
      () => false,
    );
    assert.match(
      c.detail,
      /usable: none; read-only or not writable by this user: cpu, memory, io$/,
    );
    assert.match(c.fix ?? '', /run nubes as root/);
  });

  it('on this machine, names the layout /proc/self/mountinfo shows', async () => {
    const info = readFileSync('/proc/self/mountinfo', 'utf8');
    const v1 = / - cgroup /.test(info);
    const v2 = / - cgroup2 /.test(info);
    const c = await probeCgroups();
    const mode = v1 && v2 ? 'hybrid' : v1 ? 'v1' : v2 ? 'v2 (unified)' : null;
    if (mode) assert.ok(c.detail.startsWith(mode), c.detail);
    else assert.equal(c.status, 'no');
  });
});

describe('data dir', () => {
  it('measures free space where the data dir would be created, and says it is writable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    try {
      const c = await probeDataDir(join(dir, 'not', 'yet'));
      assert.equal(c.essential, true);
      assert.match(
        c.detail,
        new RegExp(
          `^${join(dir, 'not', 'yet')} \\(not created yet; ${dir} is\\): [\\d.]+ GiB free of [\\d.]+ GiB, writable$`,
        ),
      );
      const s = statfsSync(dir);
      const free = (s.bavail * s.bsize) / 2 ** 30;
      assert.equal(c.status, free < 1 ? 'no' : free < 10 ? 'warn' : 'ok');
      assert.ok(c.detail.includes(`${free.toFixed(1)} GiB free`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says no (essential) to a data dir this user may not write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    chmodSync(dir, 0o755);
    try {
      let c: Check;
      if (process.getuid?.() !== 0) c = await probeDataDir('/nubes-doctor-test/data');
      else {
        // Root may write anywhere: ask as nobody, in a child process, about a directory root owns.
        const { stdout } = await exec(
          [
            'setpriv',
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            '--disable-warning=ExperimentalWarning',
            '--input-type=module',
            '-e',
            `import { probeDataDir } from ${JSON.stringify(new URL('./probes-system.ts', import.meta.url).pathname)};
            process.stdout.write(JSON.stringify(await probeDataDir(${JSON.stringify(join(dir, 'data'))})));`,
          ],
          { timeoutMs: 30_000 },
        );
        c = JSON.parse(stdout) as Check;
      }
      assert.equal(c.status, 'no');
      assert.equal(c.essential, true);
      assert.match(c.detail, /NOT writable by this user$/);
      assert.match(c.fix ?? '', /--data-dir/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('data dir mode', () => {
  it('is ok for a dir not created yet, and for an owner-only one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    try {
      assert.equal(probeDataDirMode(join(dir, 'none')).status, 'ok');
      chmodSync(dir, 0o700);
      writeFileSync(join(dir, 'nubes.db'), '', { mode: 0o600 });
      const c = probeDataDirMode(dir);
      assert.equal(c.status, 'ok');
      assert.equal(c.detail, '0700, owner-only, as are the 1 entries in it');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says no to a database others can read, naming it and the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    try {
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'nubes.db'), '');
      chmodSync(join(dir, 'nubes.db'), 0o644);
      const c = probeDataDirMode(dir);
      assert.equal(c.status, 'no');
      assert.equal(
        c.detail,
        `${dir} is 0755; others may read or write nubes.db (0644): other users could read the token keys and forge tokens`,
      );
      assert.equal(c.fix, `chmod -R go-rwx ${dir} (nubes up does it when it starts)`);
      chmodSync(dir, 0o700);
      assert.match(probeDataDirMode(dir).detail, /^others may read or write nubes\.db \(0644\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says no to another user's data dir", () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    try {
      const c = probeDataDirMode(dir, 4242);
      assert.equal(c.status, 'no');
      assert.match(
        c.detail,
        /belongs to uid \d+, not to this user \(uid 4242\); nubes up refuses it/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
