// What `nubes doctor`'s checks are for: each feature a user may want from this host, the checks it
// needs, and whether Nubes has it yet. A check only features still to come need is reported but is
// not a problem today.
import type { Check } from '../host/doctor/check.ts';
import { NET_CHECKS } from '../host/doctor/probes-net.ts';

export interface Feature {
  readonly name: string;
  /** False for a service not built yet: its checks are shown, as "not needed today". */
  readonly built: boolean;
  /** Checks that must not say 'no' (a 'warn' makes the feature work in a lesser way). */
  readonly needs: readonly string[];
  /** Checks that must say 'ok' (a 'warn' there means the feature is missing: TCG is not KVM). */
  readonly needsOk?: readonly string[];
}

export const FEATURES: readonly Feature[] = [
  {
    name: 'the cloud itself (APIs, database, token keys)',
    built: true,
    needs: ['node', 'data dir', 'data dir mode'],
  },
  { name: 'image uploads in disk formats (qemu-img)', built: true, needs: ['qemu-img'] },
  {
    name: 'boot VMs on KVM',
    built: true,
    needs: ['qemu', 'qemu-img'],
    needsOk: ['accelerator'],
  },
  { name: 'boot VMs on TCG (the slow fallback)', built: true, needs: ['qemu', 'qemu-img'] },
  { name: 'config drives', built: true, needs: ['genisoimage'] },
  { name: 'the nubes-tiny guest image', built: true, needs: ['tiny image'] },
  { name: 'guest console in the browser (noVNC)', built: true, needs: ['qemu', 'novnc'] },
  { name: 'guest CPU and memory limits (cgroups)', built: true, needs: ['cgroups'] },
  { name: 'networking (coming)', built: false, needs: [...NET_CHECKS, 'dnsmasq'] },
  // Their host needs (an LVM volume group, a filesystem for objects) get checks when they are built.
  { name: 'block storage (coming)', built: false, needs: [] },
  { name: 'object storage (coming)', built: false, needs: [] },
];

export type FeatureState = 'ready' | 'limited' | 'not ready' | 'not needed today';

export interface FeatureReport {
  readonly feature: Feature;
  readonly state: FeatureState;
  /** Why it is not plainly ready: the checks in the way, with their status. */
  readonly why: string;
}

/** Each feature's state from the checks (a check the list lacks counts as not run: 'no'). */
export function assessFeatures(
  checks: readonly Check[],
  features: readonly Feature[] = FEATURES,
): FeatureReport[] {
  const status = (name: string) => checks.find((c) => c.name === name)?.status ?? 'no';
  return features.map((feature) => {
    const blocking = [
      ...feature.needs.filter((n) => status(n) === 'no'),
      ...(feature.needsOk ?? []).filter((n) => status(n) !== 'ok'),
    ];
    const lesser = feature.needs.filter((n) => status(n) === 'warn');
    const named = (ns: readonly string[]) => ns.map((n) => `${n} ${status(n)}`).join(', ');
    if (!feature.built) {
      const failing = [...new Set([...blocking, ...lesser])];
      return {
        feature,
        state: 'not needed today',
        why: `not built yet${failing.length > 0 ? `; later it needs ${named(failing)}` : ''}`,
      };
    }
    if (blocking.length > 0) return { feature, state: 'not ready', why: named(blocking) };
    if (lesser.length > 0) return { feature, state: 'limited', why: named(lesser) };
    return { feature, state: 'ready', why: '' };
  });
}

/** Names of the checks that only features still to come need. */
function laterOnly(features: readonly Feature[]): Set<string> {
  const today = new Set(
    features.filter((f) => f.built).flatMap((f) => [...f.needs, ...(f.needsOk ?? [])]),
  );
  return new Set(
    features.filter((f) => !f.built).flatMap((f) => f.needs.filter((n) => !today.has(n))),
  );
}

/** The checks that matter today: not ok, and not only for a feature still to come. */
export function needingAttention(
  checks: readonly Check[],
  features: readonly Feature[] = FEATURES,
): Check[] {
  const later = laterOnly(features);
  return checks.filter((c) => c.status !== 'ok' && (c.essential || !later.has(c.name)));
}

/** Checks only features still to come need: shown, not counted. */
export function onlyForLater(
  checks: readonly Check[],
  features: readonly Feature[] = FEATURES,
): Check[] {
  const later = laterOnly(features);
  return checks.filter((c) => !c.essential && later.has(c.name));
}
