// BuildFailureWeigher: recent failed builds on a host; its large negative multiplier sends new
// builds away from a host that keeps failing them.
import type { Weigher } from '../host-state.ts';

export const BuildFailureWeigher: Weigher = {
  name: 'BuildFailureWeigher',
  value: (h) => h.failedBuilds,
};
