// The filter scheduler's decision, after Nova's: filters drop hosts that cannot take the instance,
// weighers rank the rest (each weigher's values normalised to 0..1 across the candidates, times its
// multiplier, summed). Pure functions of a snapshot of host state; the claim that follows (in
// store/claims.ts) is what makes the choice stick, atomically.
import type { InstanceFlavor } from '../model.ts';

export interface HostState {
  readonly host: string;
  readonly availabilityZone: string;
  readonly enabled: boolean;
  readonly up: boolean;
  readonly hypervisorType: string;
  readonly capacity: { readonly vcpus: number; readonly memoryMb: number; readonly diskGb: number };
  readonly used: { readonly vcpus: number; readonly memoryMb: number; readonly diskGb: number };
  /** Recent builds that failed on this host (BuildFailureWeigher). */
  readonly failedBuilds: number;
  /** Metadata of the host aggregates the host is in (AggregateInstanceExtraSpecsFilter). */
  readonly aggregateMetadata: Readonly<Record<string, readonly string[]>>;
}

export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface RequestSpec {
  readonly flavor: InstanceFlavor;
  readonly imageProperties: Readonly<Record<string, string>>;
  readonly availabilityZone: string | null;
  /** The server group and the hosts its other members are on (with repeats: one per member). */
  readonly group: {
    readonly policy: GroupPolicy;
    readonly memberHosts: readonly string[];
    readonly maxServerPerHost?: number;
  } | null;
  readonly sameHost: readonly string[] | null;
  readonly differentHost: readonly string[] | null;
  /** Hosts already tried for this build (a retry never lands on them again). */
  readonly ignoreHosts: readonly string[];
}

/** Disk a flavor takes on its host (root + ephemeral + swap), in GB. */
export const flavorDiskGb = (f: InstanceFlavor) =>
  f.rootGb + f.ephemeralGb + Math.ceil(f.swapMb / 1024);

export interface Filter {
  readonly name: string;
  passes(h: HostState, spec: RequestSpec): boolean;
}

export const FILTERS: Readonly<Record<string, Filter>> = {
  ComputeFilter: { name: 'ComputeFilter', passes: (h) => h.enabled && h.up },
  RetryFilter: { name: 'RetryFilter', passes: (h, s) => !s.ignoreHosts.includes(h.host) },
  // The old CoreFilter/RamFilter/DiskFilter, against capacity × allocation ratio (Placement's job in Nova).
  ResourceFilter: {
    name: 'ResourceFilter',
    passes: (h, s) =>
      h.used.vcpus + s.flavor.vcpus <= h.capacity.vcpus &&
      h.used.memoryMb + s.flavor.memoryMb <= h.capacity.memoryMb &&
      h.used.diskGb + flavorDiskGb(s.flavor) <= h.capacity.diskGb,
  },
  AvailabilityZoneFilter: {
    name: 'AvailabilityZoneFilter',
    passes: (h, s) => s.availabilityZone === null || h.availabilityZone === s.availabilityZone,
  },
  ImagePropertiesFilter: {
    name: 'ImagePropertiesFilter',
    passes: (h, s) => {
      const wanted = s.imageProperties['img_hv_type'] ?? s.imageProperties['hypervisor_type'];
      return (
        wanted === undefined ||
        wanted === h.hypervisorType ||
        (wanted === 'kvm' && h.hypervisorType === 'qemu') ||
        (wanted === 'qemu' && h.hypervisorType === 'kvm')
      );
    },
  },
  ServerGroupAffinityFilter: {
    name: 'ServerGroupAffinityFilter',
    passes: (h, s) =>
      s.group?.policy !== 'affinity' ||
      s.group.memberHosts.length === 0 ||
      s.group.memberHosts.includes(h.host),
  },
  ServerGroupAntiAffinityFilter: {
    name: 'ServerGroupAntiAffinityFilter',
    passes: (h, s) =>
      s.group?.policy !== 'anti-affinity' ||
      s.group.memberHosts.filter((x) => x === h.host).length < (s.group.maxServerPerHost ?? 1),
  },
  SameHostFilter: {
    name: 'SameHostFilter',
    passes: (h, s) => s.sameHost === null || s.sameHost.length === 0 || s.sameHost.includes(h.host),
  },
  DifferentHostFilter: {
    name: 'DifferentHostFilter',
    passes: (h, s) => s.differentHost === null || !s.differentHost.includes(h.host),
  },
  // Flavor extra specs `aggregate_instance_extra_specs:<key>=<value>` (or a bare `<key>` without a
  // namespace) must be in the metadata of an aggregate the host is in.
  AggregateInstanceExtraSpecsFilter: {
    name: 'AggregateInstanceExtraSpecsFilter',
    passes: (h, s) =>
      Object.entries(s.flavor.extraSpecs).every(([k, v]) => {
        const scoped = k.startsWith('aggregate_instance_extra_specs:');
        if (!scoped && k.includes(':')) return true;
        const key = scoped ? k.slice('aggregate_instance_extra_specs:'.length) : k;
        return (h.aggregateMetadata[key] ?? []).includes(v);
      }),
  },
};

export interface Weigher {
  readonly name: string;
  /** The raw value for a host; higher is better before the multiplier. */
  value(h: HostState, spec: RequestSpec): number;
}

export const WEIGHERS: Readonly<Record<string, Weigher>> = {
  RAMWeigher: { name: 'RAMWeigher', value: (h) => h.capacity.memoryMb - h.used.memoryMb },
  CPUWeigher: { name: 'CPUWeigher', value: (h) => h.capacity.vcpus - h.used.vcpus },
  DiskWeigher: { name: 'DiskWeigher', value: (h) => h.capacity.diskGb - h.used.diskGb },
  BuildFailureWeigher: { name: 'BuildFailureWeigher', value: (h) => h.failedBuilds },
  ServerGroupSoftAffinityWeigher: {
    name: 'ServerGroupSoftAffinityWeigher',
    value: (h, s) =>
      s.group?.policy === 'soft-affinity'
        ? s.group.memberHosts.filter((x) => x === h.host).length
        : 0,
  },
  ServerGroupSoftAntiAffinityWeigher: {
    name: 'ServerGroupSoftAntiAffinityWeigher',
    value: (h, s) =>
      s.group?.policy === 'soft-anti-affinity'
        ? -s.group.memberHosts.filter((x) => x === h.host).length
        : 0,
  },
};

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
