// The free-capacity weighers: with positive multipliers they spread instances to the hosts with the
// most free RAM, vCPUs and disk (negative ones stack them instead, as in Nova).
import type { Weigher } from '../host-state.ts';

export const RAMWeigher: Weigher = {
  name: 'RAMWeigher',
  value: (h) => h.capacity.memoryMb - h.used.memoryMb,
};

export const CPUWeigher: Weigher = {
  name: 'CPUWeigher',
  value: (h) => h.capacity.vcpus - h.used.vcpus,
};

export const DiskWeigher: Weigher = {
  name: 'DiskWeigher',
  value: (h) => h.capacity.diskGb - h.used.diskGb,
};
