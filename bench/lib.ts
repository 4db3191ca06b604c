// Shared benchmark helpers: load generation (autocannon, in this process, the server in another),
// RSS readings, a baseline HTTP server, and the report table. Benchmarks never assert timings.
import autocannon from 'autocannon';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { DEFAULT_ARGON2 } from '../src/platform/auth/password.ts';

/** What a benchmarked `nubes up` runs with besides the bench's own settings: the password hashing a
 * user's cloud has (the test clouds' cheap hashing would flatter every password login). */
export const AS_USERS_RUN = {
  NUBES_ARGON2_MEMORY_KIB: String(DEFAULT_ARGON2.memoryKiB),
  NUBES_ARGON2_PASSES: String(DEFAULT_ARGON2.passes),
  NUBES_ARGON2_PARALLELISM: String(DEFAULT_ARGON2.parallelism),
};

export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

export async function load(opts: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  seconds?: number;
  connections?: number;
}): Promise<LoadResult> {
  const r = await autocannon({
    url: opts.url,
    method: opts.method ?? 'GET',
    headers: opts.headers ?? {},
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    duration: opts.seconds ?? 5,
    connections: opts.connections ?? 10,
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/** Resident set size of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Resident set size of a process and all its descendants, in MiB, from /proc. */
export function treeRssMiB(pid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const own = (p: number): number => {
    try {
      return rssMiB(p) || 0; // kernel threads have no VmRSS
    } catch {
      return 0; // exited meanwhile
    }
  };
  const sum = (p: number): number =>
    own(p) + (children.get(p) ?? []).reduce((n, c) => n + sum(c), 0);
  return sum(pid);
}

/** The floor for any HTTP API on this machine: a bare node:http server in a process of its own (as
 * nubes is), answering a fixed JSON body. */
export async function startBaselineServer(
  body: string,
): Promise<{ url: string; close(): Promise<void> }> {
  // The body travels in a file: a page of servers is far larger than an environment variable may be.
  const file = join(mkdtempSync(join(tmpdir(), 'nubes-baseline-')), 'body');
  writeFileSync(file, body);
  const code = `
    const body = require('node:fs').readFileSync(process.env.BODY_FILE);
    const s = require('node:http').createServer((_q, r) => {
      r.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      r.end(body);
    });
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], {
    env: { ...process.env, BODY_FILE: file },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((ok, fail) => {
    child.stdout!.once('data', (d: Buffer) => ok(Number(d.toString().trim())));
    child.once('exit', (c) => fail(new Error(`baseline server exited ${c}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((ok) => {
        child.once('exit', () => {
          rmSync(dirname(file), { recursive: true, force: true });
          ok();
        });
        child.kill();
      }),
  };
}

export function table(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) =>
    r.map((c) =>
      typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(c < 10 ? 2 : 0)) : c,
    ),
  );
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

/** Median latency in ms of requests sent one after another on one keep-alive connection, timed
 * with sub-millisecond resolution (autocannon's percentiles are whole milliseconds). */
export async function serialLatency(opts: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  seconds?: number;
}): Promise<{ p50: number; n: number }> {
  const times: number[] = [];
  const end = performance.now() + (opts.seconds ?? 5) * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    const r = await fetch(opts.url, {
      method: opts.method ?? 'GET',
      headers: opts.headers ?? {},
      ...(opts.body !== undefined ? { body: opts.body } : {}),
    });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`${opts.method ?? 'GET'} ${opts.url} answered ${r.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, n: times.length };
}
