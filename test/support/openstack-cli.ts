// Runs Debian's `openstack` CLI (python3-openstackclient) as a user would, against a clouds.yaml.
// Each command is a process of its own with the environment the test names, its own output and exit
// code; by default it is forked from one Python per test process that imported the CLI already
// (openstack-forkserver.py), which saves about a second of CPU per command. NUBES_TEST_OPENSTACK=exec
// runs /usr/bin/openstack itself for every command instead.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSTACK = '/usr/bin/openstack';
export const haveOpenstackCli = () => existsSync(OPENSTACK);

const TIMEOUT_MS = 60_000;

export interface OsResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment a command sees: only what the test names reaches the CLI, no stray OS_* from the caller's shell. */
function commandEnv(env: Record<string, string | undefined>): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('OS_') && v !== undefined) clean[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return clean;
}

function execCli(args: readonly string[], env: Record<string, string>): Promise<OsResult> {
  return new Promise((ok) => {
    execFile(
      OPENSTACK,
      [...args],
      { env, timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

interface Pending {
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly out: string;
  readonly err: string;
  readonly done: (r: OsResult) => void;
  readonly timer: NodeJS.Timeout;
  pid?: number;
  timedOut?: boolean;
}

/** The fork server of this test process, started on the first command; null once it failed. */
let server: { child: ChildProcess; pending: Map<number, Pending>; dir: string } | null | undefined;
let nextId = 1;

function startServer(): NonNullable<typeof server> {
  const dir = mkdtempSync(join(tmpdir(), 'nubes-osc-'));
  const child = spawn('/usr/bin/python3', [join(import.meta.dirname, 'openstack-forkserver.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pending = new Map<number, Pending>();
  const s = { child, pending, dir };
  // Neither the server nor its pipes keep this process alive: a command's timer does while it runs.
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  (child.stdout as unknown as { unref(): void }).unref();
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const msg = JSON.parse(buf.slice(0, i)) as { id: number; pid?: number; code?: number };
      buf = buf.slice(i + 1);
      const p = pending.get(msg.id);
      if (!p) continue;
      if (msg.pid !== undefined) {
        p.pid = msg.pid;
        if (p.timedOut) process.kill(msg.pid, 'SIGTERM');
        continue;
      }
      pending.delete(msg.id);
      void finish(p, msg.code ?? 1);
    }
  });
  child.stdin!.on('error', () => undefined);
  child.once('exit', () => {
    // The server died (or never started): what it had not answered runs as plain commands.
    server = null;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      void execCli(p.args, p.env).then(p.done);
    }
    pending.clear();
    rmSync(dir, { recursive: true, force: true });
  });
  process.once('exit', () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

async function finish(p: Pending, code: number): Promise<void> {
  clearTimeout(p.timer);
  const [stdout, stderr] = await Promise.all(
    [p.out, p.err].map((f) => readFile(f, 'utf8').catch(() => '')),
  );
  await Promise.all([p.out, p.err].map((f) => rm(f, { force: true })));
  // As execFile reports it: a command killed (by a signal, or at the timeout) exits 1.
  p.done({ code: p.timedOut || code < 0 ? 1 : code, stdout: stdout!, stderr: stderr! });
}

function forkCli(args: readonly string[], env: Record<string, string>): Promise<OsResult> {
  if (server === undefined) server = startServer();
  if (server === null) return execCli(args, env);
  const s = server;
  const id = nextId++;
  return new Promise((done) => {
    const p: Pending = {
      args,
      env,
      out: join(s.dir, `${id}.out`),
      err: join(s.dir, `${id}.err`),
      done,
      timer: setTimeout(() => {
        p.timedOut = true;
        if (p.pid !== undefined) process.kill(p.pid, 'SIGTERM');
      }, TIMEOUT_MS),
    };
    s.pending.set(id, p);
    s.child.stdin!.write(`${JSON.stringify({ id, args, env, out: p.out, err: p.err })}\n`);
  });
}

export function os(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<OsResult> {
  const clean = commandEnv(env);
  return process.env['NUBES_TEST_OPENSTACK'] === 'exec'
    ? execCli(args, clean)
    : forkCli(args, clean);
}

/** Runs a command that must succeed; parses `-f json` output when asked. */
export async function osOk(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<any> {
  const r = await os(args, env);
  if (r.code !== 0)
    throw new Error(`openstack ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return args.includes('json') ? JSON.parse(r.stdout) : r.stdout;
}

/** One cloud entry of a clouds.yaml: password auth at the cloud's Keystone, as `nubes up` writes it. */
export function cloudEntry(url: string, user: string, password: string, project: string) {
  return {
    auth: {
      auth_url: `${url}/identity/v3`,
      username: user,
      password,
      project_name: project,
      user_domain_name: 'Default',
      project_domain_name: 'Default',
    },
    region_name: 'RegionOne',
    interface: 'public',
    identity_api_version: 3,
  };
}
