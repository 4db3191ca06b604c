// AvailabilityZoneFilter: a request naming a zone gets a host in it.
import type { Filter } from '../host-state.ts';

export const AvailabilityZoneFilter: Filter = {
  name: 'AvailabilityZoneFilter',
  passes: (h, s) => s.availabilityZone === null || h.availabilityZone === s.availabilityZone,
};
