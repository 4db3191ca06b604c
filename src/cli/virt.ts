// Chooses this host's virt driver from the configuration: the one place that knows driver names.
import type { Config } from './config.ts';
import type { VirtDriver } from '../compute/agent/virt/driver.ts';
import { FakeDriver } from '../compute/agent/virt/fake/fake-driver.ts';

export function makeVirtDriver(config: Config): VirtDriver {
  switch (config.virtDriver) {
    case 'fake': return new FakeDriver();
  }
}
