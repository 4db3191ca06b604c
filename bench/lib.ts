// Shared benchmark helpers: load generation (autocannon, in this process, the server in another),
// RSS readings, a baseline HTTP server, and the report table. Benchmarks never assert timings.
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';

export interface LoadResult { readonly rps: number; readonly p50: number; readonly p99: number; readonly non2xx: number; readonly errors: number; }

export async function load(opts: { url: string; method?: string; headers?: Record<string, string>; body?: string; seconds?: number; connections?: number }): Promise<LoadResult> {
  const r = await autocannon({
    url: opts.url, method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}),
    duration: opts.seconds ?? 5, connections: opts.connections ?? 10,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

/** Resident set size of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The floor for any HTTP API on this machine: a bare node:http server answering a fixed JSON body. */
export async function startBaselineServer(body: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}

export function table(rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(c < 10 ? 2 : 0)) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}
