// Chooses this host's virt driver from the configuration: the one place that knows driver names.
import type { Config } from './config.ts';
import type { VirtDriver } from '../compute/agent/virt/driver.ts';
import { FakeDriver } from '../compute/agent/virt/fake/fake-driver.ts';
import { QemuDriver } from '../compute/agent/virt/qemu/qemu-driver.ts';
import { chooseAccelerator } from '../host/qemu/accel.ts';
import type { Logger } from '../platform/log.ts';
import { join } from 'node:path';

/** The driver of one of this process's hosts (agentHosts); the fake keeps each host's guests apart. */
export function makeVirtDriver(
  config: Config,
  log?: Logger,
  host: string = config.agentHost,
): VirtDriver {
  switch (config.virtDriver) {
    case 'fake':
      return new FakeDriver({
        vcpus: config.fake.vcpus,
        memoryMb: config.fake.memoryMb,
        diskGb: config.fake.diskGb,
        // Its guests outlive a restart, as a real hypervisor's (fake-state.ts).
        stateDir: join(config.dataDir, 'compute', 'fake', encodeURIComponent(host)),
      });
    case 'qemu': {
      const accel = chooseAccelerator();
      log?.info({ accel: accel.accel }, accel.why);
      return new QemuDriver({
        stateDir: join(config.dataDir, 'compute'),
        accel: accel.accel,
        migrationAddress: config.migrationAddress,
        ...(config.instancesPath !== null ? { instancesPath: config.instancesPath } : {}),
        ...(log ? { log } : {}),
      });
    }
  }
}

/** The hosts this process's agents serve: one, or for the fake driver as many as configured. */
export function agentHosts(config: Config): string[] {
  if (config.virtDriver !== 'fake' || config.fake.hosts <= 1) return [config.agentHost];
  return Array.from({ length: config.fake.hosts }, (_, n) => `${config.agentHost}-${n + 1}`);
}
