// The resource limits a flavor's extra specs ask of a guest, with Nova's libvirt names: disk
// bandwidth and IOPS per disk (QEMU throttle groups) and CPU time (the guest's cgroup).
import type { DiskLimits } from '../../../../host/qemu/argv.ts';
import type { CpuLimits } from '../../../../host/cgroups.ts';
import { VirtError } from '../driver.ts';

const DISK: Readonly<Record<string, keyof DiskLimits>> = {
  'quota:disk_read_bytes_sec': 'bpsRead',
  'quota:disk_write_bytes_sec': 'bpsWrite',
  'quota:disk_total_bytes_sec': 'bpsTotal',
  'quota:disk_read_iops_sec': 'iopsRead',
  'quota:disk_write_iops_sec': 'iopsWrite',
  'quota:disk_total_iops_sec': 'iopsTotal',
};

function count(specs: Readonly<Record<string, string>>, key: string, min: number): number | null {
  const v = specs[key];
  if (v === undefined) return null;
  if (!/^\d{1,15}$/.test(v) || Number(v) < min)
    throw new VirtError(`flavor extra spec ${key}=${v} must be a whole number of at least ${min}`);
  return Number(v);
}

export function flavorLimits(specs: Readonly<Record<string, string>>): {
  disk: DiskLimits | null;
  cpu: CpuLimits | null;
} {
  const disk: Record<string, number> = {};
  for (const [key, field] of Object.entries(DISK)) {
    const n = count(specs, key, 1);
    if (n !== null) disk[field] = n;
  }
  // Total and read/write together is what QEMU (and libvirt) refuse: say so before QEMU does.
  if (
    (disk['bpsTotal'] && (disk['bpsRead'] || disk['bpsWrite'])) ||
    (disk['iopsTotal'] && (disk['iopsRead'] || disk['iopsWrite']))
  ) {
    throw new VirtError(
      'flavor extra specs: a disk total limit cannot be combined with read or write limits of the same kind',
    );
  }
  const quotaUs = count(specs, 'quota:cpu_quota', 1000);
  const periodUs = count(specs, 'quota:cpu_period', 1000);
  const shares = count(specs, 'quota:cpu_shares', 2);
  return {
    disk: Object.keys(disk).length > 0 ? (disk as DiskLimits) : null,
    cpu:
      quotaUs !== null || periodUs !== null || shares !== null
        ? { quotaUs, periodUs, shares }
        : null,
  };
}
