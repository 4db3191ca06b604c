// The compute service's configuration section: what this host's agent runs guests with (the virt
// driver, its console proxy, live-migration address, allocation ratios, shared instance storage)
// and the fake driver's simulated hosts, with their defaults.
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineSection } from '../platform/config/section.ts';
import { baseUrl, urlOfListener } from '../platform/config/base-url.ts';
import type { Listen } from '../platform/config/setting.ts';

export interface ComputeConfig {
  /** The hypervisor driver of this host's agent: 'fake' (in memory) or 'qemu' (real VMs). */
  readonly virtDriver: 'fake' | 'qemu';
  /** The agent's console proxy in `nubes serve agent` (`nubes up` serves it on its API listener):
   * where it listens (null: none) and the scheme://host[:port] browsers reach it at. */
  readonly console: {
    readonly listen: Listen | null;
    readonly publicUrl: string | null;
  };
  /** The address other hosts send live migrations coming to this host's agent to (QEMU listens there for each one). */
  readonly migrationAddress: string;
  /** What this host's agent offers per unit of its inventory (Nova's *_allocation_ratio); null: the cloud's default (4, 1, 1). */
  readonly allocationRatios: {
    readonly cpu: number | null;
    readonly ram: number | null;
    readonly disk: number | null;
  };
  /** Where the qemu driver keeps instance disks and its image cache when they are on storage shared with other hosts (null: in data_dir). */
  readonly instancesPath: string | null;
  /** The fake driver's simulated hosts: how many agents `nubes up` runs, and each one's size. */
  readonly fake: {
    readonly hosts: number;
    readonly vcpus: number;
    readonly memoryMb: number;
    readonly diskGb: number;
  };
}

export const DEFAULT_FAKE_HOSTS: ComputeConfig['fake'] = {
  hosts: 1,
  vcpus: 16,
  memoryMb: 32768,
  diskGb: 1024,
};

/** Whether an executable of that name is in one of PATH's directories (nothing is run). */
function onPath(name: string, path: string | undefined): boolean {
  return (path ?? '').split(':').some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const computeSection = defineSection({
  settings: [
    {
      key: 'virt_driver',
      env: 'NUBES_VIRT_DRIVER',
      flag: '--virt-driver',
      kind: { oneOf: ['fake', 'qemu'] },
      help: "the agent's hypervisor driver: qemu (real VMs; the default when qemu-system-x86_64 is installed) or fake (simulated guests, kept in the data dir, for tests and simulations)",
    },
    {
      key: 'console_listen',
      env: 'NUBES_CONSOLE_LISTEN',
      flag: '--console-listen',
      kind: 'listen',
      help: "HOST:PORT of a separate agent's VNC console proxy (noVNC pages and websocket); nubes up serves it on --listen (default: none)",
    },
    {
      key: 'migration_address',
      env: 'NUBES_MIGRATION_ADDRESS',
      flag: '--migration-address',
      kind: 'ip',
      help: "the IP address other hosts reach this agent's host at for live migrations (default 127.0.0.1: all hosts on one machine)",
    },
    {
      key: 'cpu_allocation_ratio',
      env: 'NUBES_CPU_ALLOCATION_RATIO',
      flag: '--cpu-allocation-ratio',
      kind: 'ratio',
      help: "guest vCPUs this host's agent offers per host CPU (default 4, as Nova's initial ratio)",
    },
    {
      key: 'ram_allocation_ratio',
      env: 'NUBES_RAM_ALLOCATION_RATIO',
      flag: '--ram-allocation-ratio',
      kind: 'ratio',
      help: "guest RAM this host's agent offers per byte of host RAM (default 1)",
    },
    {
      key: 'disk_allocation_ratio',
      env: 'NUBES_DISK_ALLOCATION_RATIO',
      flag: '--disk-allocation-ratio',
      kind: 'ratio',
      help: "guest disk this host's agent offers per byte of host disk (default 1)",
    },
    {
      key: 'instances_path',
      env: 'NUBES_INSTANCES_PATH',
      flag: '--instances-path',
      kind: 'string',
      help: 'a directory shared by the hypervisor hosts (NFS) for instance disks and the image cache, so live migrations between them move memory only (default: in data_dir, not shared)',
    },
    {
      key: 'console_public_url',
      env: 'NUBES_CONSOLE_PUBLIC_URL',
      flag: '--console-public-url',
      kind: 'string',
      help: "scheme://host[:port] browsers reach the agent's console proxy at (default http://<console_listen>)",
    },
    {
      key: 'fake.hosts',
      env: 'NUBES_FAKE_HOSTS',
      flag: '--fake-hosts',
      kind: 'int',
      help: 'fake driver: hosts `nubes up` simulates, named <host>-1..N when more than one (default 1)',
    },
    {
      key: 'fake.vcpus',
      env: 'NUBES_FAKE_VCPUS',
      kind: 'int',
      help: 'fake driver: vCPUs of each simulated host (default 16)',
    },
    {
      key: 'fake.memory_mb',
      env: 'NUBES_FAKE_MEMORY_MB',
      kind: 'int',
      help: 'fake driver: MB of RAM of each simulated host (default 32768)',
    },
    {
      key: 'fake.disk_gb',
      env: 'NUBES_FAKE_DISK_GB',
      kind: 'int',
      help: 'fake driver: GB of disk of each simulated host (default 1024)',
    },
  ],
  resolve(v, { env }): ComputeConfig {
    const consoleListen = v.console_listen ?? null;
    const consoleUrl = v.console_public_url ?? (consoleListen && urlOfListener(consoleListen));
    return {
      virtDriver: v.virt_driver ?? (onPath('qemu-system-x86_64', env['PATH']) ? 'qemu' : 'fake'),
      console: {
        listen: consoleListen,
        publicUrl: consoleUrl === null ? null : baseUrl('console_public_url', consoleUrl),
      },
      migrationAddress: v.migration_address ?? '127.0.0.1',
      allocationRatios: {
        cpu: v.cpu_allocation_ratio ?? null,
        ram: v.ram_allocation_ratio ?? null,
        disk: v.disk_allocation_ratio ?? null,
      },
      instancesPath: v.instances_path !== undefined ? resolve(v.instances_path) : null,
      fake: {
        hosts: Math.max(1, v['fake.hosts'] ?? DEFAULT_FAKE_HOSTS.hosts),
        vcpus: v['fake.vcpus'] ?? DEFAULT_FAKE_HOSTS.vcpus,
        memoryMb: v['fake.memory_mb'] ?? DEFAULT_FAKE_HOSTS.memoryMb,
        diskGb: v['fake.disk_gb'] ?? DEFAULT_FAKE_HOSTS.diskGb,
      },
    };
  },
});
