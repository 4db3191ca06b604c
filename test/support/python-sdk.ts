// Runs a Python program against Debian's python3-openstacksdk, as an application would use it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const haveSdk = () => existsSync('/usr/lib/python3/dist-packages/openstack/__init__.py');

export function python(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(
      '/usr/bin/python3',
      [script, ...args],
      { timeout: 180_000, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
