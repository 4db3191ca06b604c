// Runs Debian's `openstack` CLI (python3-openstackclient) as a user would, against a clouds.yaml.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const OPENSTACK = '/usr/bin/openstack';
export const haveOpenstackCli = () => existsSync(OPENSTACK);

export interface OsResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function os(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<OsResult> {
  return new Promise((ok) => {
    const clean: Record<string, string> = {};
    // Only what the test names reaches the CLI: no stray OS_* from the caller's shell.
    for (const [k, v] of Object.entries(process.env))
      if (!k.startsWith('OS_') && v !== undefined) clean[k] = v;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    execFile(
      OPENSTACK,
      [...args],
      { env: clean, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
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
