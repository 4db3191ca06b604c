// Every weigher the scheduler knows, by the name a configuration's `weighers` map uses.
import type { Weigher } from '../host-state.ts';
import { ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher } from './affinity.ts';
import { BuildFailureWeigher } from './build-failure.ts';
import { CPUWeigher, DiskWeigher, RAMWeigher } from './resources.ts';

export const WEIGHERS: Readonly<Record<string, Weigher>> = {
  RAMWeigher,
  CPUWeigher,
  DiskWeigher,
  BuildFailureWeigher,
  ServerGroupSoftAffinityWeigher,
  ServerGroupSoftAntiAffinityWeigher,
};
