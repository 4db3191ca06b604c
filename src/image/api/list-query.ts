// Parses GET /v2/images query strings as Glance does: filters (with the in: and gt:/gte:/lt:/lte:/
// eq:/neq: operators), both sort syntaxes, limit and marker. Unknown keys filter extra properties.
import { BadRequest } from '../../platform/errors.ts';
import {
  MEMBER_STATUSES,
  SORT_KEYS,
  VISIBILITIES,
  type Comparison,
  type ImageQuery,
  type MemberStatus,
  type SortKey,
  type SortSpec,
  type TimeFilter,
  type Visibility,
} from '../model.ts';

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 1000;

type Query = Record<string, string | string[] | undefined>;
export type ListRequest = Omit<ImageQuery, 'viewer' | 'marker'> & { marker?: string };

const bad = (message: string): never => {
  throw new BadRequest(message, 'image_bad_query');
};

function all(q: Query, key: string): string[] {
  const v = q[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function one(q: Query, key: string): string | undefined {
  const v = all(q, key);
  if (v.length > 1) bad(`Query parameter ${key} may be given only once.`);
  return v[0];
}

/** Splits Glance's `in:a,"b,c",d` value into its items. */
export function splitIn(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') {
      quoted = !quoted;
      continue;
    }
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (quoted) bad(`Unbalanced quotes in the in: filter ${JSON.stringify(value)}.`);
  out.push(cur);
  return out;
}

/** A filter value, possibly with the in: operator, as a list of accepted values. */
function oneOf(q: Query, key: string): string[] | undefined {
  const v = one(q, key);
  if (v === undefined) return undefined;
  return v.startsWith('in:') ? splitIn(v.slice(3)) : [v];
}

function int(v: string, what: string): number {
  if (!/^\d+$/.test(v)) bad(`Invalid ${what}: ${JSON.stringify(v)} is not a non-negative integer.`);
  return Number(v);
}

function bool(v: string, what: string): boolean {
  const l = v.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(l)) return true;
  if (['false', '0', 'no', 'off'].includes(l)) return false;
  return bad(`Invalid ${what}: ${JSON.stringify(v)}; use true or false.`);
}

function timeFilters(q: Query, key: string): TimeFilter[] | undefined {
  const values = all(q, key);
  if (values.length === 0) return undefined;
  return values.map((v) => {
    const m = /^(eq|neq|gt|gte|lt|lte):(.+)$/.exec(v);
    const op = (m?.[1] ?? 'eq') as Comparison;
    const at = Date.parse(m?.[2] ?? v);
    if (Number.isNaN(at))
      bad(
        `Invalid ${key} filter ${JSON.stringify(v)}: use an operator and an ISO 8601 time, e.g. gte:2024-01-01T00:00:00Z.`,
      );
    return { op, at };
  });
}

function sortOrder(q: Query): SortSpec[] {
  const sort = one(q, 'sort');
  const keys = all(q, 'sort_key');
  const dirs = all(q, 'sort_dir');
  const checkKey = (k: string): SortKey =>
    (SORT_KEYS as readonly string[]).includes(k)
      ? (k as SortKey)
      : bad(`Invalid sort key: ${k}. It should be one of: ${SORT_KEYS.join(', ')}.`);
  const checkDir = (d: string): 'asc' | 'desc' =>
    d === 'asc' || d === 'desc' ? d : bad(`Invalid sort direction: ${d}; use asc or desc.`);
  let specs: SortSpec[];
  if (sort !== undefined) {
    if (keys.length || dirs.length)
      bad('The sort parameter cannot be combined with sort_key or sort_dir.');
    specs = sort.split(',').map((part) => {
      const [k, d, ...rest] = part.trim().split(':');
      if (rest.length) bad(`Invalid sort ${JSON.stringify(part)}: use key or key:direction.`);
      return { key: checkKey(k!), dir: checkDir(d ?? 'desc') };
    });
  } else if (keys.length) {
    if (dirs.length > 1 && dirs.length !== keys.length)
      bad('Give one sort_dir, or one per sort_key.');
    specs = keys.map((k, i) => ({ key: checkKey(k), dir: checkDir(dirs[i] ?? dirs[0] ?? 'desc') }));
  } else {
    if (dirs.length > 1) bad('Give one sort_dir, or one per sort_key.');
    specs = [{ key: 'created_at', dir: checkDir(dirs[0] ?? 'desc') }];
  }
  // The id breaks ties so pages never overlap or skip.
  if (!specs.some((s) => s.key === 'id')) specs.push({ key: 'id', dir: specs[0]!.dir });
  return specs;
}

const KNOWN = new Set([
  'limit',
  'marker',
  'sort',
  'sort_key',
  'sort_dir',
  'name',
  'visibility',
  'member_status',
  'owner',
  'status',
  'tag',
  'size_min',
  'size_max',
  'id',
  'disk_format',
  'container_format',
  'protected',
  'os_hidden',
  'created_at',
  'updated_at',
]);

export function parseListQuery(q: Query): ListRequest {
  const limitRaw = one(q, 'limit');
  const limit =
    limitRaw === undefined ? DEFAULT_LIMIT : Math.min(int(limitRaw, 'limit'), MAX_LIMIT);
  const visibility = one(q, 'visibility');
  if (
    visibility !== undefined &&
    visibility !== 'all' &&
    !VISIBILITIES.includes(visibility as Visibility)
  ) {
    bad(
      `Invalid visibility value: ${visibility}; use one of public, private, shared, community, all.`,
    );
  }
  const memberStatus = one(q, 'member_status');
  if (
    memberStatus !== undefined &&
    memberStatus !== 'all' &&
    !MEMBER_STATUSES.includes(memberStatus as MemberStatus)
  ) {
    bad(
      `Invalid member_status value: ${memberStatus}; use one of pending, accepted, rejected, all.`,
    );
  }
  const properties: Record<string, string> = {};
  for (const key of Object.keys(q)) {
    if (KNOWN.has(key)) continue;
    const v = one(q, key);
    if (v !== undefined) properties[key] = v;
  }
  const sizeMin = one(q, 'size_min');
  const sizeMax = one(q, 'size_max');
  const prot = one(q, 'protected');
  const hidden = one(q, 'os_hidden');
  const tags = all(q, 'tag');
  const r: Record<string, unknown> = {
    limit,
    sort: sortOrder(q),
    marker: one(q, 'marker'),
    visibility,
    memberStatus,
    names: oneOf(q, 'name'),
    ids: oneOf(q, 'id'),
    owners: oneOf(q, 'owner'),
    statuses: oneOf(q, 'status'),
    diskFormats: oneOf(q, 'disk_format'),
    containerFormats: oneOf(q, 'container_format'),
    tags: tags.length ? tags : undefined,
    properties: Object.keys(properties).length ? properties : undefined,
    sizeMin: sizeMin === undefined ? undefined : int(sizeMin, 'size_min'),
    sizeMax: sizeMax === undefined ? undefined : int(sizeMax, 'size_max'),
    protected: prot === undefined ? undefined : bool(prot, 'protected'),
    osHidden: hidden === undefined ? undefined : bool(hidden, 'os_hidden'),
    createdAt: timeFilters(q, 'created_at'),
    updatedAt: timeFilters(q, 'updated_at'),
  };
  for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
  return r as ListRequest;
}

/** The query string of the next page: the same filters with a new marker. */
export function nextQuery(q: Query, marker: string, limit: number): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (k === 'marker' || k === 'limit' || v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  }
  p.set('limit', String(limit));
  p.set('marker', marker);
  return p.toString();
}
