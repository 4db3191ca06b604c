// QEMU processes of the QEMU driver: started daemonized (their own session, a pidfile in the
// instance directory) so they outlive the agent; found again by that pidfile; stopped by signal
// when QMP cannot be used.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { exec } from '../exec.ts';
import { renderArgv, vmFiles, type VmDefinition } from './argv.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Starts the VM; resolves once QEMU has daemonized (its QMP socket exists then). */
export async function startQemu(d: VmDefinition): Promise<number> {
  await exec([QEMU_BINARY, ...renderArgv(d)], { timeoutMs: 60_000 });
  const pid = qemuPid(d.dir);
  if (pid === null) throw new Error(`QEMU daemonized without writing ${vmFiles(d.dir).pid}`);
  return pid;
}

/** The pid of the instance's QEMU if it runs (a zombie or a reused pid of another program does not count). */
export function qemuPid(dir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(vmFiles(dir).pid, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return null;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(dir) ? pid : null;
  } catch {
    return null;
  }
}

/** Whether `pid` is a process that has not exited (gone, or a zombie waiting to be reaped, is not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * SIGKILL, then waits (up to 5 s) until it has exited: by the pid, not the pidfile's test, since a
 * dying process's command line empties before its memory and files are released.
 */
export async function killQemu(dir: string): Promise<void> {
  const pid = qemuPid(dir);
  if (pid === null) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
  for (let n = 0; n < 250 && running(pid); n++) await sleep(20);
}

/** Waits up to `ms` for the instance's QEMU to exit; true if it did. */
export async function waitQemuExit(dir: string, ms: number): Promise<boolean> {
  // Followed by its pid, not by qemuPid(dir): an exiting process's cmdline reads empty before it
  // has let go of its files, and a QEMU started at once on the same disk would find them locked.
  const pid = qemuPid(dir);
  if (pid === null) return true;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!running(pid)) return true;
    await sleep(50);
  }
  return !running(pid);
}
