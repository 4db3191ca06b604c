// Starts a real `nubes up` (or `nubes serve api|agent`) as a child process on a free loopback port with
// its own data directory, waits for /healthcheck, and stops it with SIGINT as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

const READY_MS = 90_000;

/** What every test cloud runs with, unless a test says otherwise. */
const TEST_ENV = {
  // The tiny guest image is registered only where a test asks for it (it takes a build).
  NUBES_TINY_IMAGE: 'off',
  // Cheap password hashing, as the in-process test clouds use: every openstack command
  // authenticates with a password, and the default Argon2id (64 MiB, 3 passes) costs the server a
  // third of a CPU second each time. The hashing itself is tested in src/platform/auth.
  NUBES_ARGON2_MEMORY_KIB: '1024',
  NUBES_ARGON2_PASSES: '1',
  NUBES_ARGON2_PARALLELISM: '1',
};

export interface NubesProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGINT, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  readonly args?: string[];
  readonly env?: Record<string, string>;
  readonly dataDir?: string;
  /** The nubes command; default `up`. */
  readonly command?: string[];
  /** What says it is ready: /healthcheck answering 200 (the default), or its output matching. */
  readonly readyWhen?: RegExp;
}

export async function startNubes(opts: StartOptions = {}): Promise<NubesProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nubes-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // bin/nubes, exactly as a user runs it (it execs node, so the pid is the server's own).
  const child = spawn(
    join(ROOT, 'bin/nubes'),
    [
      ...(opts.command ?? ['up']),
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      ...(opts.args ?? []),
    ],
    {
      env: { ...process.env, ...TEST_ENV, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  // Generous: the e2e files run at once on a 2-core machine, beside the unit tests' guests.
  const deadline = Date.now() + READY_MS;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`nubes exited with ${child.exitCode} before it was ready:\n${out}`);
    if (opts.readyWhen) {
      if (opts.readyWhen.test(out)) break;
    } else {
      try {
        const r = await fetch(`${url}/healthcheck`);
        if (r.ok) break;
      } catch {
        /* not listening yet */
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nubes did not become ready in ${READY_MS / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dataDir,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      // The timer is cleared once nubes exits: a pending one would keep the test process alive.
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 15_000))),
      ]).finally(() => clearTimeout(timer));
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`nubes did not stop within 15 s of SIGINT:\n${out}`);
      }
      return code;
    },
  };
}

/** A project-scoped token of the cloud's admin, from its password, as `openstack` would get one. */
export async function adminToken(url: string, password: string): Promise<string> {
  const r = await fetch(`${url}/identity/v3/auth/tokens`, {
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
  if (r.status !== 201) throw new Error(`admin sign-in answered ${r.status}: ${await r.text()}`);
  return r.headers.get('x-subject-token')!;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts several at once (agents, replicas); if one fails, stops the others and throws its error. */
export async function startAll(all: readonly StartOptions[]): Promise<NubesProcess[]> {
  const settled = await Promise.allSettled(all.map((o) => startNubes(o)));
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s) => s.status === 'rejected');
  if (failure) {
    for (const p of started) {
      await p.stop().catch(() => undefined);
      removeDir(p.dataDir);
    }
    throw failure.reason;
  }
  return started;
}
