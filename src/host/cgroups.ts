// CPU limits for a guest's QEMU process, in a cgroup of its own (nubes/<name>), on the unified
// hierarchy (cgroup v2: cpu.max, cpu.weight) or on v1's cpu controller (cfs_quota_us,
// cfs_period_us, shares), whichever the host has the cpu controller on; hybrid hosts put it on v1.
// Only files are written: no command runs.
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CpuLimits {
  /** Microseconds of CPU time per period the guest may use (all its vCPUs together); null: no cap. */
  readonly quotaUs: number | null;
  /** The period quotaUs counts in (default 100 ms). */
  readonly periodUs: number | null;
  /** Relative weight against other guests (v1 shares, 1024 = normal); null: default. */
  readonly shares: number | null;
}

export type CgroupLayout =
  { readonly version: 2; readonly root: string } | { readonly version: 1; readonly root: string };

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Where this host's cpu controller is: the unified hierarchy when it has it, else v1's cpu mount. */
export async function cpuCgroupLayout(base = '/sys/fs/cgroup'): Promise<CgroupLayout | null> {
  const controllers = await readFile(join(base, 'cgroup.controllers'), 'utf8').catch(() => '');
  if (controllers.split(/\s+/).includes('cpu')) return { version: 2, root: base };
  if (await exists(join(base, 'cpu', 'cpu.cfs_quota_us')))
    return { version: 1, root: join(base, 'cpu') };
  return null;
}

/** cgroup v2's cpu.weight (1..10000) for v1 shares (2..262144), the kernel's own mapping. */
export const weightOfShares = (shares: number): number =>
  Math.min(10_000, Math.max(1, 1 + Math.floor(((shares - 2) * 9999) / 262_142)));

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Puts `pid` (the whole process) into nubes/<name> with these limits; returns the group's directory. */
export async function limitCpu(
  layout: CgroupLayout,
  name: string,
  pid: number,
  limits: CpuLimits,
): Promise<string> {
  if (!NAME.test(name)) throw new Error(`cgroup name ${name} is not a plain name`);
  const parent = join(layout.root, 'nubes');
  const dir = join(parent, name);
  await mkdir(dir, { recursive: true });
  if (layout.version === 2) {
    // A child only gets the cpu files when its parents hand the controller down.
    await writeFile(join(layout.root, 'cgroup.subtree_control'), '+cpu').catch(() => undefined);
    await writeFile(join(parent, 'cgroup.subtree_control'), '+cpu');
    if (limits.quotaUs !== null || limits.periodUs !== null) {
      await writeFile(
        join(dir, 'cpu.max'),
        `${limits.quotaUs ?? 'max'} ${limits.periodUs ?? 100_000}`,
      );
    }
    if (limits.shares !== null)
      await writeFile(join(dir, 'cpu.weight'), String(weightOfShares(limits.shares)));
  } else {
    if (limits.periodUs !== null)
      await writeFile(join(dir, 'cpu.cfs_period_us'), String(limits.periodUs));
    if (limits.quotaUs !== null)
      await writeFile(join(dir, 'cpu.cfs_quota_us'), String(limits.quotaUs));
    if (limits.shares !== null) await writeFile(join(dir, 'cpu.shares'), String(limits.shares));
  }
  await writeFile(join(dir, 'cgroup.procs'), String(pid));
  return dir;
}

/** Removes nubes/<name> (its processes must be gone); a group that is not there is fine. */
export async function removeCgroup(layout: CgroupLayout, name: string): Promise<void> {
  if (!NAME.test(name)) return;
  // A killed process stays in its group until its parent (init, for a daemon) reaps it: EBUSY a while.
  for (let n = 0; ; n++) {
    try {
      await rmdir(join(layout.root, 'nubes', name));
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || n >= 100) throw e;
      await sleep(20);
    }
  }
}
