// The image service's data path: upload and download throughput of a raw image through a real
// `nubes up`, next to a plain `cp` of the same file on the same disk in the same run (the ratio), and
// the API process's peak RSS while a 4 GiB image streams in. curl is the client, in its own process.
// Also the idle RSS of a fresh `nubes up` with its defaults (every service, nubes-tiny registered).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, startNubes, removeDir } from '../test/support/nubes-process.ts';
import { AS_USERS_RUN, rssMiB, table, treeRssMiB } from './lib.ts';

export interface ImageBenchResult {
  readonly rows: (string | number)[][];
  readonly summary: Record<string, number>;
}

/** Writes `mib` MiB of incompressible data (one random MiB repeated, with a counter so no block repeats). */
function makeFile(path: string, mib: number): void {
  const block = randomBytes(1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      block.writeUInt32LE(i, 0);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
}

/** Seconds commands take, run one after the other; both sides of a comparison see the same warm
 * page cache. */
function timed(...commands: [string, string[]][]): number {
  const t = performance.now();
  for (const [cmd, args] of commands) {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString()}`);
  }
  return (performance.now() - t) / 1000;
}

/** CPU seconds a process (all its threads) has used, from /proc: a figure the other load on a
 * shared machine disturbs far less than a rate. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** How long an idle `nubes up` waits after it said it is up before its RSS is read. */
const IDLE_SECONDS = 5;

/**
 * The RSS of a fresh `nubes up` (new data dir, a user's password hashing) and its child processes,
 * idle for IDLE_SECONDS after it said it is up: with its defaults, nubes-tiny registered (built
 * once into the cache, which takes minutes on the first run), or without it.
 */
async function idleRss(tiny: boolean): Promise<number> {
  const nubes = await startNubes({
    env: { ...AS_USERS_RUN, NUBES_LOG_LEVEL: 'warn', NUBES_TINY_IMAGE: tiny ? 'on' : 'off' },
    readyWhen: /is up/,
  });
  try {
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    return treeRssMiB(nubes.child.pid!);
  } finally {
    await nubes.stop();
    removeDir(nubes.dataDir);
  }
}

/** Samples a process's RSS every 50 ms until `work` resolves; returns the highest reading. */
async function peakRss<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ result: T; peakMiB: number }> {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 50);
  try {
    const result = await work();
    return { result, peakMiB: Math.max(peak, rssMiB(pid)) };
  } finally {
    clearInterval(timer);
  }
}

function curlAsync(args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`curl exited ${code}`))));
  });
}

export async function runImageBench(opts: {
  mib: number;
  bigGiB: number;
}): Promise<ImageBenchResult> {
  // Every start but a checkout's first finds its code compiled in Node's compile cache (bin/nubes):
  // a first start fills it (`--help` loads the same modules), so each figure is a usual start's.
  execFileSync(join(ROOT, 'bin/nubes'), ['--help'], { stdio: 'ignore' });
  const idleDefault = await idleRss(true);
  const idleNoTiny = await idleRss(false);
  const nubes = await startNubes({ env: { ...AS_USERS_RUN, NUBES_LOG_LEVEL: 'warn' } });
  const dir = nubes.dataDir;
  try {
    const password = readFileSync(join(dir, 'admin-password'), 'utf8').trim();
    const auth = await fetch(`${nubes.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
    const token = auth.headers.get('x-subject-token')!;
    const api = `${nubes.url}/image/v2`;
    const create = async (name: string) => {
      const r = await fetch(`${api}/images`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': token },
        body: JSON.stringify({ name, disk_format: 'raw', container_format: 'bare' }),
      });
      return ((await r.json()) as { id: string }).id;
    };
    const upload = (id: string, file: string) =>
      curlAsync([
        '-sS',
        '--fail',
        '-X',
        'PUT',
        '-H',
        `x-auth-token: ${token}`,
        '-H',
        'content-type: application/octet-stream',
        '-T',
        file,
        `${api}/images/${id}/file`,
      ]);

    const src = join(dir, 'bench.raw');
    makeFile(src, opts.mib);
    const bytes = statSync(src).size;
    execFileSync('cat', [src], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache for both sides
    const copy = join(dir, 'copy.raw');
    const cpUp = timed(['cp', [src, copy]]);
    rmSync(copy);
    // An upload is durable before it answers: the same guarantee for cp is cp, then sync the copy.
    const cpSyncUp = timed(['cp', [src, copy]], ['sync', [copy]]);
    rmSync(copy);
    // MD5 is one sequential pass nothing can split: the ceiling of any upload computing it.
    const md5Seconds = timed(['openssl', ['md5', src]]);
    const idleRss = rssMiB(nubes.child.pid!);
    const id = await create('bench');
    const pid = nubes.child.pid!;
    const gib = bytes / 1024 ** 3;
    let cpu = cpuSeconds(pid);
    const t = performance.now();
    await upload(id, src);
    const upSeconds = (performance.now() - t) / 1000;
    const upCpu = (cpuSeconds(pid) - cpu) / gib;
    const download = (to: string) =>
      timed([
        'curl',
        ['-sS', '--fail', '-H', `x-auth-token: ${token}`, '-o', to, `${api}/images/${id}/file`],
      ]);
    // The server's own rate, without the client's writes (curl writes its file 4 KiB at a time).
    cpu = cpuSeconds(pid);
    const nullSeconds = download('/dev/null');
    const downCpu = (cpuSeconds(pid) - cpu) / gib;
    const downSeconds = download(join(dir, 'down.raw'));
    const same = spawnSync('cmp', [src, join(dir, 'down.raw')]).status === 0;
    rmSync(join(dir, 'down.raw'));
    const cpDown = timed(['cp', [join(dir, 'images', readdirKey(dir)), join(dir, 'copy2.raw')]]);
    rmSync(join(dir, 'copy2.raw'));
    rmSync(src);

    // The streaming check: a 4 GiB upload must not grow the process by anything like its size.
    const big = join(dir, 'big.raw');
    makeFile(big, opts.bigGiB * 1024);
    const bigId = await create('big');
    const before = rssMiB(nubes.child.pid!);
    const tb = performance.now();
    const { peakMiB } = await peakRss(nubes.child.pid!, () => upload(bigId, big));
    const bigSeconds = (performance.now() - tb) / 1000;
    rmSync(big);

    const mbps = (s: number) => bytes / 1024 / 1024 / s;
    const rows: (string | number)[][] = [
      ['data path', `MiB/s (${opts.mib} MiB file)`, 'vs cp'],
      ['cp of the same file (baseline)', mbps(cpUp), '1.00'],
      [
        'cp, then sync the copy (durable, as an upload)',
        mbps(cpSyncUp),
        (cpUp / cpSyncUp).toFixed(2),
      ],
      ['openssl md5 of the file (one core)', mbps(md5Seconds), (cpUp / md5Seconds).toFixed(2)],
      [
        'upload: curl PUT /file → active (md5+sha512, fsync, inspection)',
        mbps(upSeconds),
        (cpUp / upSeconds).toFixed(2),
      ],
      ['cp of the stored file (baseline)', mbps(cpDown), '1.00'],
      [
        `download: curl GET /file → file${same ? ', byte-identical' : ', DIFFERENT'}`,
        mbps(downSeconds),
        (cpDown / downSeconds).toFixed(2),
      ],
      [
        'download: curl GET /file → /dev/null',
        mbps(nullSeconds),
        (cpDown / nullSeconds).toFixed(2),
      ],
      [`${opts.bigGiB} GiB upload`, (opts.bigGiB * 1024) / bigSeconds, ''],
    ];
    const summary = {
      file_mib: opts.mib,
      cp_mibps: mbps(cpUp),
      cp_sync_mibps: mbps(cpSyncUp),
      md5_mibps: mbps(md5Seconds),
      upload_vs_cp_sync: cpSyncUp / upSeconds,
      upload_cpu_s_per_gib: upCpu,
      download_cpu_s_per_gib: downCpu,
      download_null_mibps: mbps(nullSeconds),
      idle_rss_default_mib: idleDefault,
      idle_rss_no_tiny_mib: idleNoTiny,
      upload_mibps: mbps(upSeconds),
      download_mibps: mbps(downSeconds),
      cp_stored_mibps: mbps(cpDown),
      upload_vs_cp: cpUp / upSeconds,
      download_vs_cp: cpDown / downSeconds,
      download_identical: same ? 1 : 0,
      idle_rss_mib: idleRss,
      rss_before_big_mib: before,
      peak_rss_big_upload_mib: peakMiB,
      big_gib: opts.bigGiB,
      big_upload_mibps: (opts.bigGiB * 1024) / bigSeconds,
    };
    return { rows, summary };
  } finally {
    await nubes.stop();
    removeDir(dir);
  }
}

/** The one stored object's key (the file store keeps one file per image under images/). */
function readdirKey(dir: string): string {
  const names = execFileSync('ls', [join(dir, 'images')])
    .toString()
    .trim()
    .split('\n')
    .filter((n) => /^[0-9a-f]{32}$/.test(n));
  if (names.length !== 1) throw new Error(`expected one stored image, found ${names.length}`);
  return names[0]!;
}

export function printImage(r: ImageBenchResult): string {
  const s = r.summary;
  return `${table(r.rows)}\n\nIdle RSS of a fresh nubes up, ${IDLE_SECONDS} s after it is up (with its children): ${s['idle_rss_default_mib']!.toFixed(1)} MiB with its defaults (nubes-tiny registered), ${s['idle_rss_no_tiny_mib']!.toFixed(1)} MiB without nubes-tiny.\nCPU of the nubes process per GiB: upload ${s['upload_cpu_s_per_gib']!.toFixed(2)} s, download ${s['download_cpu_s_per_gib']!.toFixed(2)} s.\nRSS of the nubes process: after the cp baselines ${s['idle_rss_mib']!.toFixed(0)} MiB, before the ${s['big_gib']} GiB upload ${s['rss_before_big_mib']!.toFixed(0)} MiB, peak during it ${s['peak_rss_big_upload_mib']!.toFixed(0)} MiB.\n`;
}
