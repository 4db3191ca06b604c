// Runs Debian's `openstack` CLI (python3-openstackclient) as a user would, against a clouds.yaml.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const OPENSTACK = '/usr/bin/openstack';
export const haveOpenstackCli = () => existsSync(OPENSTACK);

export interface OsResult { readonly code: number; readonly stdout: string; readonly stderr: string; }

export function os(args: readonly string[], env: Record<string, string | undefined>): Promise<OsResult> {
  return new Promise((ok) => {
    const clean: Record<string, string> = {};
    // Only what the test names reaches the CLI: no stray OS_* from the caller's shell.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_') && v !== undefined) clean[k] = v;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    execFile(OPENSTACK, [...args], { env: clean, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; parses `-f json` output when asked. */
export async function osOk(args: readonly string[], env: Record<string, string | undefined>): Promise<any> {
  const r = await os(args, env);
  if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return args.includes('json') ? JSON.parse(r.stdout) : r.stdout;
}
