// What the filters and weighers see, after Nova's HostState and RequestSpec: one host's snapshot
// (capacity, usage, zone, aggregates) and what the instance asks for; and the two plug-in shapes.
import type { GroupPolicy, HostState, InstanceFlavor } from '../model.ts';

// A host's snapshot and the group policies live in the model: the store builds them too.
export type { GroupPolicy, HostState } from '../model.ts';

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

/** Drops hosts that cannot take the instance. */
export interface Filter {
  readonly name: string;
  passes(h: HostState, spec: RequestSpec): boolean;
}

/** Ranks the hosts left; its values are normalised across the candidates, then multiplied. */
export interface Weigher {
  readonly name: string;
  /** The raw value for a host; higher is better before the multiplier. */
  value(h: HostState, spec: RequestSpec): number;
}
