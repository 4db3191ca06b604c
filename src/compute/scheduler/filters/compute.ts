// ComputeFilter: only hosts that are enabled and whose agent reported recently.
import type { Filter } from '../host-state.ts';

export const ComputeFilter: Filter = { name: 'ComputeFilter', passes: (h) => h.enabled && h.up };
