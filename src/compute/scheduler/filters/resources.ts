// ResourceFilter: the old CoreFilter/RamFilter/DiskFilter in one, against capacity × allocation
// ratio (Placement's job in Nova). The claim after the choice checks the same sums atomically.
import { flavorDiskGb, type Filter } from '../host-state.ts';

export const ResourceFilter: Filter = {
  name: 'ResourceFilter',
  passes: (h, s) =>
    h.used.vcpus + s.flavor.vcpus <= h.capacity.vcpus &&
    h.used.memoryMb + s.flavor.memoryMb <= h.capacity.memoryMb &&
    h.used.diskGb + flavorDiskGb(s.flavor) <= h.capacity.diskGb,
};
