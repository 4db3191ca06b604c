// Reads flavor requests as Nova's schemas do: POST /flavors bodies and the list query.
import { BadRequest } from '../../platform/errors.ts';
import { s, type Static } from '../../platform/http/schema.ts';
import type { Microversion } from '../../platform/http/microversion.ts';
import type { NewFlavor } from '../model.ts';
import type { FlavorListQuery } from '../service/flavors.ts';

const bad = (message: string): never => {
  throw new BadRequest(message, 'flavor_bad_request');
};

function int(
  f: Readonly<Record<string, unknown>>,
  key: string,
  min: number,
  fallback?: number,
): number {
  const raw = f[key] ?? fallback;
  if (raw === undefined)
    bad(`Invalid input for field/attribute flavor. Value: ${key} is a required property.`);
  // Nova's schema takes integers or integer strings.
  const v = typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31 - 1) {
    bad(
      `Invalid input for field/attribute ${key}. Value: ${JSON.stringify(raw)}. It must be an integer from ${min} to ${2 ** 31 - 1}.`,
    );
  }
  return v as number;
}

/** The create body's shape; each field's rules (Nova's messages) are parseFlavorCreate's. */
export const flavorCreateBody = s.object(
  { flavor: s.record(s.unknown()) },
  { required: ['flavor'] },
);

export function parseFlavorCreate(
  body: Static<typeof flavorCreateBody>,
  mv: Microversion,
): NewFlavor {
  const f = body.flavor;
  const allowed = new Set([
    'name',
    'id',
    'ram',
    'vcpus',
    'disk',
    'OS-FLV-EXT-DATA:ephemeral',
    'swap',
    'rxtx_factor',
    'os-flavor-access:is_public',
    ...(mv.atLeast('2.55') ? ['description'] : []),
  ]);
  for (const k of Object.keys(f))
    if (!allowed.has(k))
      bad(
        `Invalid input for field/attribute flavor. Additional properties are not allowed ('${k}' was unexpected)`,
      );
  const name = f['name'];
  if (typeof name !== 'string' || name.trim() === '' || name.length > 255 || name !== name.trim())
    bad(
      'Invalid input for field/attribute name: a name of 1-255 characters without leading or trailing spaces is required.',
    );
  let id = f['id'];
  if (id === undefined || id === null) id = crypto.randomUUID();
  if (typeof id === 'number' && Number.isInteger(id)) id = String(id);
  if (typeof id !== 'string' || !/^(?! )[a-zA-Z0-9. _-]{1,255}(?<! )$/.test(id))
    bad(
      'Invalid input for field/attribute id: 1-255 letters, digits, spaces, ".", "_" or "-", not starting or ending with a space.',
    );
  const rxtx = f['rxtx_factor'] ?? 1;
  if (typeof rxtx !== 'number' || !(rxtx > 0) || rxtx > 3.40282e38)
    bad(
      `Invalid input for field/attribute rxtx_factor. Value: ${JSON.stringify(rxtx)}. It must be a number above 0.`,
    );
  const isPublic = f['os-flavor-access:is_public'] ?? true;
  if (typeof isPublic !== 'boolean')
    bad('Invalid input for field/attribute os-flavor-access:is_public: a boolean is required.');
  const description = f['description'] ?? null;
  if (description !== null && (typeof description !== 'string' || description.length > 65535))
    bad(
      'Invalid input for field/attribute description: a string of at most 65535 characters, or null.',
    );
  return {
    id: id as string,
    name: name as string,
    ramMb: int(f, 'ram', 1),
    vcpus: int(f, 'vcpus', 1),
    diskGb: int(f, 'disk', 0),
    ephemeralGb: int(f, 'OS-FLV-EXT-DATA:ephemeral', 0, 0),
    swapMb: f['swap'] === '' ? 0 : int(f, 'swap', 0, 0),
    rxtxFactor: rxtx as number,
    isPublic: isPublic as boolean,
    description: description as string | null,
  };
}

const SORT_KEYS = [
  'flavorid',
  'id',
  'name',
  'memory_mb',
  'vcpus',
  'root_gb',
  'created_at',
] as const;

/**
 * Nova's list query. Non-admins always get public flavors plus private ones open to their project
 * (is_public is ignored); admins get that too by default, everything with is_public=none, and
 * only private flavors with is_public=false.
 */
export function parseFlavorQuery(
  q: Readonly<Record<string, unknown>>,
  isAdmin: boolean,
): FlavorListQuery {
  const one = (k: string) => {
    const v = q[k];
    return Array.isArray(v) ? String(v.at(-1)) : v === undefined ? undefined : String(v);
  };
  const num = (k: string) => {
    const v = one(k);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) bad(`Invalid ${k} filter [${v}]`);
    return Number(v);
  };
  const pub = isAdmin ? one('is_public')?.toLowerCase() : undefined;
  let isPublic: boolean | undefined = true;
  if (pub === 'none') isPublic = undefined;
  else if (pub !== undefined) {
    if (['true', 't', '1', 'yes', 'y', 'on'].includes(pub)) isPublic = true;
    else if (['false', 'f', '0', 'no', 'n', 'off'].includes(pub)) isPublic = false;
    else bad(`Invalid is_public filter [${pub}]`);
  }
  const sortKey = one('sort_key') ?? 'flavorid';
  if (!(SORT_KEYS as readonly string[]).includes(sortKey))
    bad(`Invalid sort_key ${sortKey}: use one of ${SORT_KEYS.join(', ')}.`);
  const sortDir = one('sort_dir') ?? 'asc';
  if (sortDir !== 'asc' && sortDir !== 'desc') bad(`Invalid sort_dir ${sortDir}: use asc or desc.`);
  const limit = Math.min(num('limit') ?? 1000, 1000);
  const r: FlavorListQuery = {
    sortKey: (sortKey === 'id' ? 'created_at' : sortKey) as FlavorListQuery['sortKey'],
    sortDir: sortDir as 'asc' | 'desc',
    limit,
    scope: isPublic === undefined ? 'all' : isPublic ? 'usable' : 'private',
  };
  const minRam = num('minRam');
  const minDisk = num('minDisk');
  const marker = one('marker');
  return {
    ...r,
    ...(minRam !== undefined ? { minRamMb: minRam } : {}),
    ...(minDisk !== undefined ? { minDiskGb: minDisk } : {}),
    ...(marker !== undefined ? { marker } : {}),
  };
}
