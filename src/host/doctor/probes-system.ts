// `nubes doctor` on the host itself: the Node runtime, the cgroup layout and controllers, the free
// space where the data dir lives and whether it is private. Reads only: nothing is created or written.
import { constants, existsSync, readFileSync } from 'node:fs';
import { access, readFile, statfs } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { check, type Check } from './check.ts';
import { inspectPrivateDir, octal, OTHERS } from '../private-dir.ts';

const GiB = 2 ** 30;

/** The Node range package.json's engines field asks for, as [major, minor]. */
function minimumNode(): [number, number] {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { engines?: { node?: string } };
  const m = /(\d+)(?:\.(\d+))?/.exec(pkg.engines?.node ?? '');
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : [0, 0];
}

/** Whether `version` ('26.10.0') is at least [major, minor]. */
export function atLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** The runtime running nubes: its version against package.json's engines, and node:sqlite (the embedded database). */
export async function probeNode(version = process.versions.node): Promise<Check> {
  const min = minimumNode();
  const need = `needs >= ${min.join('.')}`;
  if (!atLeast(version, min)) {
    return check('node', 'no', `v${version} runs nubes, which ${need}`, {
      essential: true,
      fix: 'start nubes with bin/nubes, which installs a supported Node into .tools/',
    });
  }
  try {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(':memory:');
    const row = db.prepare('select sqlite_version() as v').get() as { v: string };
    db.close();
    return check('node', 'ok', `v${version} (${need}); node:sqlite works (SQLite ${row.v})`, {
      essential: true,
    });
  } catch (e) {
    return check(
      'node',
      'no',
      `v${version}: node:sqlite does not work (${(e as Error).message}); the embedded database needs it`,
      {
        essential: true,
        fix: 'start nubes with bin/nubes, which installs a supported Node into .tools/',
      },
    );
  }
}

// ---- cgroups ----

const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

export interface CgroupMounts {
  /** Each v1 controller and the first place its hierarchy is mounted. */
  readonly v1: ReadonlyMap<string, { readonly mountpoint: string; readonly rw: boolean }>;
  /** Where cgroup2 is mounted. */
  readonly v2: readonly { readonly mountpoint: string; readonly rw: boolean }[];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The cgroup filesystems in a /proc/self/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const v1 = new Map<string, { mountpoint: string; rw: boolean }>();
  const v2: { mountpoint: string; rw: boolean }[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const f = before.split(' ');
    const [fstype, , superOpts = ''] = after.split(' ');
    const mountpoint = unescape(f[4] ?? '');
    const rw = (f[5] ?? '').split(',').includes('rw') && superOpts.split(',').includes('rw');
    if (fstype === 'cgroup2') v2.push({ mountpoint, rw });
    else if (fstype === 'cgroup') {
      for (const c of superOpts.split(','))
        if (V1_CONTROLLERS.has(c) && !v1.has(c)) v1.set(c, { mountpoint, rw });
    }
  }
  return { v1, v2 };
}

/** The controllers Nubes would limit guests with; io is called blkio on v1. */
const WANTED = [
  ['cpu', 'cpu'],
  ['memory', 'memory'],
  ['io', 'blkio'],
] as const;

/**
 * The cgroup check from the mounts and what each cgroup2 mount's cgroup.controllers lists. A
 * controller is usable when its hierarchy is mounted read-write and this process may write there.
 */
export function describeCgroups(
  m: CgroupMounts,
  v2Controllers: ReadonlyMap<string, readonly string[]>,
  writable: (path: string) => boolean,
): Check {
  const v2 = m.v2[0];
  const mode = m.v1.size > 0 && v2 ? 'hybrid' : m.v1.size > 0 ? 'v1' : v2 ? 'v2 (unified)' : null;
  if (!mode)
    return check('cgroups', 'no', 'no cgroup filesystem is mounted', {
      fix: 'mount -t cgroup2 none /sys/fs/cgroup',
    });
  const on2 = v2 ? (v2Controllers.get(v2.mountpoint) ?? []) : [];
  const usable: string[] = [];
  const absent: string[] = [];
  const locked: string[] = [];
  for (const [v2name, v1name] of WANTED) {
    const one = m.v1.get(v1name);
    if (one && one.rw && writable(one.mountpoint)) usable.push(`${v1name} (v1)`);
    else if (v2 && on2.includes(v2name) && v2.rw && writable(v2.mountpoint))
      usable.push(`${v2name} (v2)`);
    else (one || on2.includes(v2name) ? locked : absent).push(v2name);
  }
  const where =
    mode === 'hybrid'
      ? `; cgroup2 at ${v2!.mountpoint} has ${on2.length ? on2.join(' ') : 'no controllers'}`
      : v2
        ? ` at ${v2.mountpoint}`
        : '';
  const detail = [
    `${mode}${where}`,
    `usable: ${usable.join(', ') || 'none'}`,
    ...(absent.length ? [`not available: ${absent.join(', ')}`] : []),
    ...(locked.length ? [`read-only or not writable by this user: ${locked.join(', ')}`] : []),
  ].join('; ');
  if (absent.length + locked.length === 0) return check('cgroups', 'ok', detail);
  return check('cgroups', 'warn', detail, {
    fix: `guests would run without ${[...absent, ...locked].join('/')} limits; ${locked.length ? 'run nubes as root' : 'use a host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) or mount the missing v1 controllers'}`,
  });
}

export async function probeCgroups(mountinfoPath = '/proc/self/mountinfo'): Promise<Check> {
  const mounts = parseCgroupMounts(await readFile(mountinfoPath, 'utf8'));
  const lists = new Map<string, string[]>();
  for (const { mountpoint } of mounts.v2) {
    const text = await readFile(join(mountpoint, 'cgroup.controllers'), 'utf8').catch(() => '');
    lists.set(mountpoint, text.split(/\s+/).filter(Boolean));
  }
  const writable = new Map<string, boolean>();
  for (const p of [
    ...mounts.v2.map((v) => v.mountpoint),
    ...[...mounts.v1.values()].map((v) => v.mountpoint),
  ]) {
    writable.set(
      p,
      await access(p, constants.W_OK).then(
        () => true,
        () => false,
      ),
    );
  }
  return describeCgroups(mounts, lists, (p) => writable.get(p) ?? false);
}

// ---- the data dir ----

/** Free space below which the data dir is a 'no' (the database and keys need room) and a 'warn'. */
export const DISK_NO_BYTES = 1 * GiB;
export const DISK_WARN_BYTES = 10 * GiB;

const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;

/** Free space and write access where the data dir is (or would be created, when it does not exist yet). */
export async function probeDataDir(dataDir: string): Promise<Check> {
  let at = dataDir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const fs = await statfs(at);
  const free = fs.bavail * fs.bsize;
  const total = fs.blocks * fs.bsize;
  const canWrite = await access(at, constants.W_OK).then(
    () => true,
    () => false,
  );
  const where = at === dataDir ? dataDir : `${dataDir} (not created yet; ${at} is)`;
  const detail = `${where}: ${gib(free)} free of ${gib(total)}${canWrite ? ', writable' : ', NOT writable by this user'}`;
  if (!canWrite)
    return check('data dir', 'no', detail, {
      essential: true,
      fix: `run as a user who may write ${at}, or choose another --data-dir`,
    });
  if (free < DISK_NO_BYTES)
    return check('data dir', 'no', detail, {
      essential: true,
      fix: `free space on ${at} or choose another --data-dir (needs at least ${gib(DISK_NO_BYTES)})`,
    });
  if (free < DISK_WARN_BYTES)
    return check('data dir', 'warn', detail, {
      essential: true,
      fix: `images and instance disks need room: free space or choose another --data-dir (${gib(DISK_WARN_BYTES)} or more is comfortable)`,
    });
  return check('data dir', 'ok', detail, { essential: true });
}

/**
 * Whether the data dir and everything in it is owner-only (nubes up makes it so at each start):
 * the database holds the token keys, so a file others can read lets them forge tokens.
 */
export function probeDataDirMode(dataDir: string, self = process.getuid?.() ?? 0): Check {
  const r = inspectPrivateDir(dataDir, { limit: 3 });
  if (!r.exists)
    return check('data dir mode', 'ok', `${dataDir} not created yet; nubes up creates it 0700`);
  if (r.uid !== self)
    return check(
      'data dir mode',
      'no',
      `${dataDir} belongs to uid ${r.uid}, not to this user (uid ${self}); nubes up refuses it`,
      { fix: `chown -R ${self} ${dataDir}, or run nubes as uid ${r.uid}` },
    );
  const open = (r.mode! & OTHERS) !== 0;
  const seen = `${r.scanned}${r.truncated ? '+' : ''} entries`;
  if (!open && r.loose.length === 0)
    return check('data dir mode', 'ok', `${octal(r.mode!)}, owner-only, as are the ${seen} in it`);
  const problems = [
    ...(open ? [`${dataDir} is ${octal(r.mode!)}`] : []),
    ...(r.loose.length > 0
      ? [
          `others may read or write ${r.loose.map((l) => `${relative(dataDir, l.path)} (${octal(l.mode)})`).join(', ')}${r.loose.length === 3 ? ', ...' : ''}`,
        ]
      : []),
  ];
  return check(
    'data dir mode',
    'no',
    `${problems.join('; ')}: other users could read the token keys and forge tokens`,
    { fix: `chmod -R go-rwx ${dataDir} (nubes up does it when it starts)` },
  );
}
