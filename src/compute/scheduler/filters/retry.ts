// RetryFilter: a build sent back to the scheduler never lands on a host it already failed on.
import type { Filter } from '../host-state.ts';

export const RetryFilter: Filter = {
  name: 'RetryFilter',
  passes: (h, s) => !s.ignoreHosts.includes(h.host),
};
