// Before a server process writes anything: a umask that makes every file it creates owner-only, and
// a data dir that is private whatever existed before (mkdir -p or a package may have made it 0755).
import { makePrivateDir, octal } from '../host/private-dir.ts';

/** Files and directories this process creates get no group/other bits (0600, 0700). */
export function ownerOnlyUmask(): void {
  process.umask(0o077);
}

/**
 * Creates or tightens the data dir, and returns what to tell the user when it had been open to
 * others (null when it was private or new). Throws with a message that says what to do when it
 * cannot (the directory belongs to another user, or an entry in it cannot be changed).
 */
export function prepareDataDir(dataDir: string): string | null {
  ownerOnlyUmask();
  let t;
  try {
    t = makePrivateDir(dataDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES')
      throw new Error(
        `cannot make the data dir ${dataDir} private (${(e as Error).message}); other users may be able to read its token keys: fix its owner and modes (chown -R, chmod -R go-rwx) or choose another --data-dir`,
        { cause: e },
      );
    throw e;
  }
  if (t.dirWas === null && t.entries === 0) return null;
  const what = [
    ...(t.dirWas !== null ? [`it was ${octal(t.dirWas)}, now ${octal(t.dirWas & ~0o077)}`] : []),
    ...(t.entries > 0
      ? [`${t.entries} file${t.entries === 1 ? '' : 's'} in it made owner-only`]
      : []),
  ].join('; ');
  return `the data dir ${dataDir} was readable by other users: ${what} (it holds the token keys)`;
}

/** prepareDataDir for a command: says on stderr what it changed, or why the command cannot start
 * (then false: the caller stops before writing anything). */
export function readyDataDir(dataDir: string): boolean {
  try {
    const notice = prepareDataDir(dataDir);
    if (notice) process.stderr.write(`nubes: ${notice}\n`);
    return true;
  } catch (e) {
    process.stderr.write(`nubes: cannot start: ${(e as Error).message}\n`);
    return false;
  }
}
