// Nova's response bodies for flavors and key pairs, as pure functions of domain objects and the
// request's microversion (fields come and go with it exactly as in Nova's view builders).
import type { Microversion } from '../../platform/http/microversion.ts';
import type { Flavor, Keypair } from '../model.ts';

export type Links = (path: string) => { rel: string; href: string }[];

export function flavorSummary(f: Flavor, mv: Microversion, links: Links): Record<string, unknown> {
  return {
    id: f.id,
    name: f.name,
    ...(mv.atLeast('2.55') ? { description: f.description } : {}),
    links: links(`flavors/${f.id}`),
  };
}

export function flavorView(
  f: Flavor,
  mv: Microversion,
  links: Links,
  opts: { extraSpecs: boolean },
): Record<string, unknown> {
  const v: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.ramMb,
    disk: f.diskGb,
    vcpus: f.vcpus,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeralGb,
    'OS-FLV-DISABLED:disabled': f.disabled,
    // Before 2.75 a flavor without swap says "" (an old quirk of Nova's), from 2.75 on 0.
    swap: f.swapMb === 0 && !mv.atLeast('2.75') ? '' : f.swapMb,
    rxtx_factor: f.rxtxFactor,
    'os-flavor-access:is_public': f.isPublic,
    links: links(`flavors/${f.id}`),
  };
  if (mv.atLeast('2.55')) v['description'] = f.description;
  if (mv.atLeast('2.61') && opts.extraSpecs) v['extra_specs'] = { ...f.extraSpecs };
  return v;
}

/** ISO 8601 as Nova prints it in key pair, service and hypervisor bodies: microseconds, no zone. */
export const novaTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000');

/** A time a client sends (changes-since, start, ...): ISO 8601, UTC when it names no zone, as Nova; NaN when it is not one. */
export const parseNovaTime = (v: string): number =>
  Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);

export function keypairSummary(k: Keypair, mv: Microversion): Record<string, unknown> {
  return {
    keypair: {
      name: k.name,
      public_key: k.publicKey,
      fingerprint: k.fingerprint,
      ...(mv.atLeast('2.2') ? { type: k.type } : {}),
    },
  };
}

export function keypairView(k: Keypair, mv: Microversion): Record<string, unknown> {
  return {
    name: k.name,
    public_key: k.publicKey,
    fingerprint: k.fingerprint,
    user_id: k.userId,
    ...(mv.atLeast('2.2') ? { type: k.type } : {}),
    created_at: novaTime(k.createdAt),
    deleted: false,
    deleted_at: null,
    updated_at: null,
    id: 0,
  };
}
