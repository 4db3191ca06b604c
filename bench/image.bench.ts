// The image service's data path: upload and download throughput of a raw image through a real
// `nubes up`, next to a plain `cp` of the same file on the same disk in the same run (the ratio), and
// the API process's peak RSS while a 4 GiB image streams in. curl is the client, in its own process.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startNubes, removeDir } from '../test/support/nubes-process.ts';
import { AS_USERS_RUN, rssMiB, table } from './lib.ts';

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

/** Seconds a command takes; both sides of a comparison see the same warm page cache. */
function timed(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString()}`);
  return (performance.now() - t) / 1000;
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
    const cpUp = timed('cp', [src, join(dir, 'copy.raw')]);
    rmSync(join(dir, 'copy.raw'));
    const idleRss = rssMiB(nubes.child.pid!);
    const id = await create('bench');
    const t = performance.now();
    await upload(id, src);
    const upSeconds = (performance.now() - t) / 1000;
    const downSeconds = timed('curl', [
      '-sS',
      '--fail',
      '-H',
      `x-auth-token: ${token}`,
      '-o',
      join(dir, 'down.raw'),
      `${api}/images/${id}/file`,
    ]);
    const same = spawnSync('cmp', [src, join(dir, 'down.raw')]).status === 0;
    rmSync(join(dir, 'down.raw'));
    const cpDown = timed('cp', [join(dir, 'images', readdirKey(dir)), join(dir, 'copy2.raw')]);
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
      [`${opts.bigGiB} GiB upload`, (opts.bigGiB * 1024) / bigSeconds, ''],
    ];
    const summary = {
      file_mib: opts.mib,
      cp_mibps: mbps(cpUp),
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
  return `${table(r.rows)}\n\nRSS of the nubes process: idle ${s['idle_rss_mib']!.toFixed(0)} MiB, before the ${s['big_gib']} GiB upload ${s['rss_before_big_mib']!.toFixed(0)} MiB, peak during it ${s['peak_rss_big_upload_mib']!.toFixed(0)} MiB.\n`;
}
