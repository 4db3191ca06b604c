// Issue 3's benchmark: against a started `nubes up` (real Argon2id, SQLite), token validation and
// token issue (re-scope, password, application credential) requests per second and latency from
// this second process, the password hash's own rate, and the idle RSS. A bare node:http server
// answering a token-sized JSON body in the same run is the baseline for the ratios. A repeated
// validation is served from the replica's token cache; the cold one (after a write that moves the
// identity generation, so resolved from the database again) is timed on its own.
import { argon2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { DEFAULT_ARGON2 } from '../src/platform/auth/password.ts';
import { startNubes, removeDir } from '../test/support/nubes-process.ts';
import {
  AS_USERS_RUN,
  load,
  rssMiB,
  serialLatency,
  startBaselineServer,
  table,
  type LoadResult,
} from './lib.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const argon2Async = promisify(argon2);

export interface IdentityBenchResult {
  readonly rows: (string | number)[][];
  readonly summary: Record<string, number>;
}

async function json(
  url: string,
  init: RequestInit,
): Promise<{ status: number; headers: Headers; body: any }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

/** One Argon2id hash with the default parameters, straight through Node's crypto (no limiter). */
function oneHash(): Promise<Buffer> {
  const p = DEFAULT_ARGON2;
  return argon2Async('argon2id', {
    message: Buffer.from('pw'),
    nonce: randomBytes(16),
    parallelism: p.parallelism,
    tagLength: 32,
    memory: p.memoryKiB,
    passes: p.passes,
  });
}

/** Argon2id verifications per second with the default parameters, two at a time (2 cores). */
async function hashRate(seconds: number): Promise<{ perSecond: number; msEach: number }> {
  const started = performance.now();
  let done = 0;
  let totalMs = 0;
  const worker = async () => {
    while (performance.now() - started < seconds * 1000) {
      const t = performance.now();
      await oneHash();
      totalMs += performance.now() - t;
      done++;
    }
  };
  await Promise.all([worker(), worker()]);
  return { perSecond: done / ((performance.now() - started) / 1000), msEach: totalMs / done };
}

/** The rest of a password auth's path (HTTP, JSON, lookups, role resolution, token sealing, the
 * response): password auths one at a time against a second cloud whose Argon2id costs ~nothing. */
async function passwordPathWithoutHash(seconds: number): Promise<{ p50: number; n: number }> {
  const cheap = await startNubes({
    env: {
      NUBES_LOG_LEVEL: 'warn',
      NUBES_ARGON2_MEMORY_KIB: '8',
      NUBES_ARGON2_PASSES: '1',
      NUBES_ARGON2_PARALLELISM: '1',
    },
  });
  try {
    const password = readFileSync(join(cheap.dataDir, 'admin-password'), 'utf8').trim();
    const body = JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    });
    return await serialLatency({
      url: `${cheap.url}/identity/v3/auth/tokens`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      seconds,
    });
  } finally {
    await cheap.stop();
    removeDir(cheap.dataDir);
  }
}

/** Median latency of a validation the token cache cannot answer: each follows a project update,
 * which moves the identity generation, so the token is resolved from the database again. */
async function coldValidation(
  base: string,
  token: string,
  projectId: string,
  seconds: number,
): Promise<{ p50: number; n: number }> {
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const w = await fetch(`${base}/projects/${projectId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ project: { description: `cold ${i}` } }),
    });
    await w.arrayBuffer();
    // Only the validation is timed; the update moved the generation after its own token check.
    if (!w.ok) throw new Error(`PATCH /projects/${projectId} answered ${w.status}`);
    const t = performance.now();
    const r = await fetch(`${base}/auth/tokens`, {
      headers: { 'x-auth-token': token, 'x-subject-token': token },
    });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`GET /auth/tokens answered ${r.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, n: times.length };
}

/** The median time of one Argon2id hash with the default parameters, one at a time. */
async function hashLatency(seconds: number): Promise<number> {
  const times: number[] = [];
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const t = performance.now();
    await oneHash();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function runIdentityBench(opts: { seconds: number }): Promise<IdentityBenchResult> {
  const nubes = await startNubes({ env: { ...AS_USERS_RUN, NUBES_LOG_LEVEL: 'warn' } });
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const idleRss = rssMiB(nubes.child.pid!);
    const clouds = readFileSync(join(nubes.dataDir, 'admin-password'), 'utf8').trim();
    const base = `${nubes.url}/identity/v3`;
    const passwordBody = (scope: unknown) =>
      JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: clouds } },
          },
          scope,
        },
      });
    const login = await json(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: passwordBody({ project: { name: 'admin', domain: { id: 'default' } } }),
    });
    const token = login.headers.get('x-subject-token')!;
    const userId = login.body.token.user.id;
    const ac = await json(`${base}/users/${userId}/application_credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ application_credential: { name: 'bench' } }),
    });
    const appCred = ac.body.application_credential;
    const body = JSON.stringify(login.body);

    const baseline = await startBaselineServer(body);
    const results: Record<string, LoadResult> = {};
    try {
      results['baseline'] = await load({ url: baseline.url, seconds: opts.seconds });
    } finally {
      await baseline.close();
    }
    results['validate'] = await load({
      url: `${base}/auth/tokens`,
      headers: { 'x-auth-token': token, 'x-subject-token': token },
      seconds: opts.seconds,
    });
    results['rescope'] = await load({
      url: `${base}/auth/tokens`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      seconds: opts.seconds,
      body: JSON.stringify({
        auth: {
          identity: { methods: ['token'], token: { id: token } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
    results['password'] = await load({
      url: `${base}/auth/tokens`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: passwordBody({ project: { name: 'admin', domain: { id: 'default' } } }),
      seconds: opts.seconds,
      connections: 4,
    });
    results['appcred'] = await load({
      url: `${base}/auth/tokens`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      seconds: opts.seconds,
      connections: 4,
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: appCred.id, secret: appCred.secret },
          },
        },
      }),
    });
    const loadedRss = rssMiB(nubes.child.pid!);
    const hash = await hashRate(opts.seconds);
    const hashAlone = await hashLatency(opts.seconds);
    const path = await passwordPathWithoutHash(opts.seconds);

    const b = results['baseline']!;
    const rows: (string | number)[][] = [
      ['request', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'vs baseline req/s'],
    ];
    const label: Record<string, string> = {
      baseline: 'baseline: bare node:http, same JSON',
      validate: 'token validation (GET /auth/tokens)',
      rescope: 'token issue from a token (re-scope)',
      password: 'token issue with a password, 4 connections',
      appcred: 'token issue with an app credential, 4 connections',
    };
    for (const [k, r] of Object.entries(results))
      rows.push([
        label[k]!,
        r.rps,
        r.p50,
        r.p99,
        r.non2xx + r.errors,
        k === 'baseline' ? '1.00' : (r.rps / b.rps).toFixed(3),
      ]);
    rows.push([
      `Argon2id alone (m=${DEFAULT_ARGON2.memoryKiB} KiB, t=${DEFAULT_ARGON2.passes}, p=${DEFAULT_ARGON2.parallelism}), 2 at once`,
      hash.perSecond,
      hash.msEach,
      '',
      '',
      '',
    ]);
    rows.push(['Argon2id alone, one at a time', 1000 / hashAlone, hashAlone, '', '', '']);
    const pw = results['password']!;
    const summary = {
      validate_rps: results['validate']!.rps,
      rescope_rps: results['rescope']!.rps,
      password_rps: pw.rps,
      appcred_rps: results['appcred']!.rps,
      hash_per_second: hash.perSecond,
      hash_ms: hash.msEach,
      // What a password auth costs beyond its hash, measured on a cloud whose hash is trivial.
      password_path_overhead_ms: path.p50,
      validate_serial_p50_ms: (
        await serialLatency({
          url: `${base}/auth/tokens`,
          headers: { 'x-auth-token': token, 'x-subject-token': token },
          seconds: opts.seconds,
        })
      ).p50,
      validate_cold_p50_ms: (
        await coldValidation(base, token, login.body.token.project.id, opts.seconds)
      ).p50,
      idle_rss_mib: idleRss,
      loaded_rss_mib: loadedRss,
      baseline_rps: b.rps,
    };
    return { rows, summary };
  } finally {
    await nubes.stop();
    removeDir(nubes.dataDir);
  }
}

export function printIdentity(r: IdentityBenchResult): string {
  const s = r.summary;
  return (
    `${table(r.rows)}\n\n` +
    `token validation, one request at a time: p50 ${s['validate_serial_p50_ms']!.toFixed(2)} ms` +
    ` (after a change that empties the token cache: ${s['validate_cold_p50_ms']!.toFixed(2)} ms)\n` +
    `password auth without its hash (a cloud with a trivial Argon2id), one at a time: p50 ${s['password_path_overhead_ms']!.toFixed(2)} ms\n` +
    `idle RSS of nubes up: ${s['idle_rss_mib']!.toFixed(1)} MiB (after load: ${s['loaded_rss_mib']!.toFixed(1)} MiB)\n`
  );
}
