// The filter scheduler's decision, after Nova's: filters (filters/) drop hosts that cannot take the
// instance, weighers (weighers/) rank the rest (each weigher's values normalised to 0..1 across the
// candidates, times its multiplier, summed). Pure functions of a snapshot of host state; the claim
// that follows (in store/claims.ts) is what makes the choice stick, atomically.
import { FILTERS } from './filters/index.ts';
import type { HostState, RequestSpec } from './host-state.ts';
import { WEIGHERS } from './weighers/index.ts';

// The scheduler's vocabulary, for its users outside scheduler/ (the stores, the services, the API).
export { flavorDiskGb, type GroupPolicy, type HostState, type RequestSpec } from './host-state.ts';

export interface SchedulerConfig {
  readonly filters: readonly string[];
  /** Weigher name → multiplier (Nova's *_weight_multiplier). */
  readonly weighers: Readonly<Record<string, number>>;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  filters: [
    'RetryFilter',
    'ComputeFilter',
    'AvailabilityZoneFilter',
    'ResourceFilter',
    'ImagePropertiesFilter',
    'ServerGroupAntiAffinityFilter',
    'ServerGroupAffinityFilter',
    'SameHostFilter',
    'DifferentHostFilter',
    'AggregateInstanceExtraSpecsFilter',
  ],
  weighers: {
    RAMWeigher: 1,
    CPUWeigher: 1,
    DiskWeigher: 1,
    BuildFailureWeigher: -1000000,
    ServerGroupSoftAffinityWeigher: 1,
    ServerGroupSoftAntiAffinityWeigher: 1,
  },
};

/** Checks a configuration's names, so a typo fails at start, not at the first boot. */
export function checkSchedulerConfig(c: SchedulerConfig): void {
  for (const f of c.filters)
    if (!FILTERS[f])
      throw new Error(`unknown scheduler filter ${f}; known: ${Object.keys(FILTERS).join(', ')}`);
  for (const w of Object.keys(c.weighers))
    if (!WEIGHERS[w])
      throw new Error(`unknown scheduler weigher ${w}; known: ${Object.keys(WEIGHERS).join(', ')}`);
}

export interface Selection {
  /** Candidates, best first. */
  readonly hosts: readonly string[];
  /** For a "no valid host" fault: how many hosts each filter let through, in order. */
  readonly trail: readonly { readonly filter: string; readonly left: number }[];
}

/** Filters and weighs `hosts`; `limit` keeps only the best few (a placement needs one: no full sort). */
export function selectHosts(
  hosts: readonly HostState[],
  spec: RequestSpec,
  config: SchedulerConfig,
  limit = Infinity,
): Selection {
  let left = hosts;
  const trail: { filter: string; left: number }[] = [];
  for (const name of config.filters) {
    const f = FILTERS[name]!;
    left = left.filter((h) => f.passes(h, spec));
    trail.push({ filter: name, left: left.length });
    if (left.length === 0) return { hosts: [], trail };
  }
  // Plain arrays and loops: this runs once per placement over every candidate (thousands of hosts).
  const scores = new Float64Array(left.length);
  const values = new Float64Array(left.length);
  for (const [name, multiplier] of Object.entries(config.weighers)) {
    if (multiplier === 0) continue;
    const w = WEIGHERS[name]!;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < left.length; i++) {
      const v = w.value(left[i]!, spec);
      values[i] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    // Normalised to 0..1 across the candidates, as Nova's weighers are; equal values weigh nothing.
    if (hi === lo) continue;
    for (let i = 0; i < left.length; i++)
      scores[i]! += multiplier * ((values[i]! - lo) / (hi - lo));
  }
  // Higher score first; equal scores by host name, so a decision is reproducible.
  const better = (a: number, b: number) =>
    scores[a]! > scores[b]! || (scores[a] === scores[b] && left[a]!.host < left[b]!.host);
  if (limit === 1) {
    let best = 0;
    for (let i = 1; i < left.length; i++) if (better(i, best)) best = i;
    return { hosts: [left[best]!.host], trail };
  }
  const order = Array.from(left.keys()).sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  return { hosts: order.slice(0, limit).map((i) => left[i]!.host), trail };
}
