// Reading server requests as Nova's schemas do (nova/api/openstack/compute/schemas/servers.py):
// the create body with its hints, the update body, and the list query with its filters, sorting
// and paging. Everything here answers bad input with a 400 that names the field.
import { BadRequest } from '../../platform/errors.ts';
import { linearRegExp } from '../../platform/regex.ts';
import type { Microversion } from '../../platform/http/microversion.ts';
import { apiStatus, TASK_STATES, VM_STATES, type TaskState, type VmState } from '../states.ts';
import type { InstanceQuery, SortColumn } from '../service/servers.ts';
import type { RequestedNetworks } from '../model.ts';
import type { ServerCreate, ServerListQuery } from '../service/servers.ts';
import { s, type Static } from '../../platform/http/schema.ts';
import { isObject } from './body.ts';
import { parseNovaTime } from './views.ts';

const invalid = (field: string, why: string) =>
  new BadRequest(`Invalid input for field/attribute ${field}. ${why}`, 'server_invalid');
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function str(
  o: Readonly<Record<string, unknown>>,
  k: string,
  opts: { max?: number; min?: number; nullable?: boolean } = {},
): string | null | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (v === null && opts.nullable) return null;
  if (typeof v !== 'string') throw invalid(k, `Value: ${JSON.stringify(v)}. It must be a string.`);
  if (v.length < (opts.min ?? 0) || v.length > (opts.max ?? 255))
    throw invalid(
      k,
      `Value: ${v}. It must be ${opts.min ?? 0} to ${opts.max ?? 255} characters long.`,
    );
  return v;
}

/** A server name: 1-255 printable characters without leading or trailing spaces (Nova's name schema). */
function serverName(v: unknown, field = 'name'): string {
  if (
    typeof v !== 'string' ||
    v.length < 1 ||
    v.length > 255 ||
    v.trim() !== v ||
    /[\x00-\x1f\x7f]/.test(v)
  ) {
    throw invalid(
      field,
      `Value: ${JSON.stringify(v)}. It must be 1-255 printable characters without leading or trailing whitespace.`,
    );
  }
  return v;
}

export function parseMetadata(v: unknown, field = 'metadata'): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw invalid(field, 'It must be an object of strings.');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (k.length < 1 || k.length > 255)
      throw invalid(field, `The key ${JSON.stringify(k)} must be 1-255 characters long.`);
    if (typeof val !== 'string' || val.length > 255)
      throw invalid(field, `The value of ${k} must be a string of at most 255 characters.`);
    out[k] = val;
  }
  return out;
}

function count(v: unknown, field: string): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw invalid(field, `Value: ${JSON.stringify(v)}. It must be an integer of at least 1.`);
  return n;
}

function networks(v: unknown, mv: Microversion): RequestedNetworks {
  if (v === undefined) {
    if (mv.atLeast('2.37'))
      throw invalid(
        'networks',
        '\'networks\' is a required property from microversion 2.37 (use "auto" or "none").',
      );
    return 'auto';
  }
  if (v === 'auto' || v === 'none') {
    if (!mv.atLeast('2.37')) throw invalid('networks', `"${v}" needs microversion 2.37 or later.`);
    return v;
  }
  if (!Array.isArray(v)) throw invalid('networks', 'It must be a list, "auto" or "none".');
  return v.map((o: unknown) => {
    if (!isObject(o))
      throw invalid('networks', 'Each network must be an object with a uuid or a port.');
    const uuid = str(o, 'uuid', { max: 36 }) ?? undefined;
    const port = str(o, 'port', { max: 36, nullable: true }) ?? undefined;
    const fixedIp = str(o, 'fixed_ip', { max: 45 }) ?? undefined;
    const tag = str(o, 'tag', { max: 60 }) ?? undefined;
    if (uuid !== undefined && !UUID.test(uuid))
      throw new BadRequest(
        `Bad networks format: network uuid is not in proper format (${uuid})`,
        'server_invalid',
      );
    if (uuid === undefined && port === undefined)
      throw new BadRequest(
        'Bad networks format: each network needs a uuid or a port.',
        'server_invalid',
      );
    return {
      ...(uuid !== undefined ? { uuid } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(fixedIp !== undefined ? { fixedIp } : {}),
      ...(tag !== undefined ? { tag } : {}),
    };
  });
}

function hostList(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'string' && UUID.test(x)))
    throw invalid(`os:scheduler_hints.${field}`, 'It must be a server UUID or a list of them.');
  return list as string[];
}

/** The host a server runs on is what same_host/different_host name: ids are resolved by the caller. */
export interface ParsedCreate extends Omit<ServerCreate, 'hints'> {
  readonly hints: {
    readonly group: string | null;
    readonly sameHost: readonly string[];
    readonly differentHost: readonly string[];
  };
  readonly returnReservationId: boolean;
}

const object = s.record(s.unknown());

/** The create body's shape; every field's own rules (Nova's messages) are parseServerCreate's. */
export const serverCreateBody = s.object(
  {
    server: s.object({ security_groups: s.array(object) }),
    'os:scheduler_hints': object,
    'OS-SCH-HNT:scheduler_hints': object,
  },
  { required: ['server'] },
);

export function parseServerCreate(
  body: Static<typeof serverCreateBody>,
  mv: Microversion,
): ParsedCreate {
  const s = body.server;
  const name = serverName(s['name']);
  const flavorRef = s['flavorRef'];
  if (typeof flavorRef !== 'string' && typeof flavorRef !== 'number')
    throw invalid('flavorRef', "'flavorRef' is a required property.");
  if (s['block_device_mapping_v2'] !== undefined || s['block_device_mapping'] !== undefined) {
    throw new BadRequest(
      'Block device mappings are not supported yet: there is no volume service. Boot from an image with imageRef.',
      'server_bdm_unsupported',
    );
  }
  const imageRef = s['imageRef'];
  if (typeof imageRef !== 'string' || imageRef === '')
    throw invalid(
      'imageRef',
      'An image is required (booting from volume needs the volume service).',
    );
  // Nova accepts an image href too: the id is its last segment.
  const imageId = imageRef.split('/').at(-1)!;
  if (!UUID.test(imageId))
    throw invalid('imageRef', `Value: ${imageRef}. It must be an image UUID.`);
  if (s['personality'] !== undefined) {
    if (mv.atLeast('2.57'))
      throw invalid('personality', 'Additional properties are not allowed from microversion 2.57.');
    throw new BadRequest(
      'File injection (personality) is not supported; pass files in user_data or on a config drive.',
      'server_personality_unsupported',
    );
  }
  let userData: string | null = null;
  if (s['user_data'] !== undefined && s['user_data'] !== null) {
    const u = s['user_data'];
    if (typeof u !== 'string' || u.length > 65535 || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(u))
      throw invalid('user_data', 'It must be base64 of at most 65535 characters.');
    userData = u;
  }
  const min = s['min_count'] === undefined ? 1 : count(s['min_count'], 'min_count');
  const max = s['max_count'] === undefined ? min : count(s['max_count'], 'max_count');
  if (max < min) throw new BadRequest('min_count must be <= max_count', 'server_invalid');
  const sgs = s['security_groups'];
  let securityGroups: string[] = ['default'];
  if (sgs !== undefined) {
    securityGroups = sgs.map((g) => {
      const n = g['name'];
      if (typeof n !== 'string' || n === '') throw invalid('security_groups', 'Each needs a name.');
      return n;
    });
  }
  const hints = body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {};
  const group = hints['group'];
  if (group !== undefined && (typeof group !== 'string' || !UUID.test(group)))
    throw invalid('os:scheduler_hints.group', 'It must be a server group UUID.');
  const hostname = mv.atLeast('2.90') ? (str(s, 'hostname', { min: 1 }) ?? null) : null;
  if (hostname !== null && !/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/.test(hostname))
    throw invalid('hostname', `Value: ${hostname}. It must be a valid host name.`);
  const cd = s['config_drive'];
  return {
    name,
    description: mv.atLeast('2.19') ? (str(s, 'description', { nullable: true }) ?? null) : null,
    imageId,
    flavorId: String(flavorRef).split('/').at(-1)!,
    keyName: str(s, 'key_name') ?? null,
    userData,
    metadata: s['metadata'] === undefined ? {} : parseMetadata(s['metadata']),
    availabilityZone: str(s, 'availability_zone') ?? null,
    host: mv.atLeast('2.74') ? (str(s, 'host') ?? null) : null,
    networks: networks(s['networks'], mv),
    securityGroups,
    minCount: min,
    maxCount: max,
    accessIpv4: str(s, 'accessIPv4', { nullable: true }) ?? null,
    accessIpv6: str(s, 'accessIPv6', { nullable: true }) ?? null,
    configDrive: cd === true || cd === 'true' || cd === 'True' || cd === '1',
    hostname,
    adminPass: str(s, 'adminPass') ?? null,
    hints: {
      group: (group as string | undefined) ?? null,
      sameHost: hostList(hints['same_host'], 'same_host'),
      differentHost: hostList(hints['different_host'], 'different_host'),
    },
    returnReservationId:
      s['return_reservation_id'] === true ||
      s['return_reservation_id'] === 'True' ||
      s['return_reservation_id'] === 'true',
  };
}

/** The update body's shape; which keys a microversion allows is parseServerUpdate's. */
export const serverUpdateBody = s.object({ server: object }, { required: ['server'] });

export function parseServerUpdate(
  body: Static<typeof serverUpdateBody>,
  mv: Microversion,
): {
  name?: string;
  description?: string | null;
  hostname?: string;
  accessIpv4?: string | null;
  accessIpv6?: string | null;
} {
  const s = body.server;
  const out: {
    name?: string;
    description?: string | null;
    hostname?: string;
    accessIpv4?: string | null;
    accessIpv6?: string | null;
  } = {};
  for (const k of Object.keys(s)) {
    if (
      ![
        'name',
        'accessIPv4',
        'accessIPv6',
        'OS-DCF:diskConfig',
        ...(mv.atLeast('2.19') ? ['description'] : []),
        ...(mv.atLeast('2.90') ? ['hostname'] : []),
      ].includes(k)
    ) {
      throw invalid(k, 'Additional properties are not allowed.');
    }
  }
  if (s['name'] !== undefined) out.name = serverName(s['name']);
  if (s['description'] !== undefined)
    out.description = str(s, 'description', { nullable: true }) ?? null;
  if (s['hostname'] !== undefined) out.hostname = str(s, 'hostname', { min: 1, max: 63 })!;
  if (s['accessIPv4'] !== undefined)
    out.accessIpv4 = str(s, 'accessIPv4', { nullable: true }) ?? null;
  if (s['accessIPv6'] !== undefined)
    out.accessIpv6 = str(s, 'accessIPv6', { nullable: true }) ?? null;
  return out;
}

// --- the list query

/** Nova's sort keys, onto our columns. */
const SORT_KEYS: Readonly<Record<string, SortColumn>> = {
  created_at: 'created_at',
  updated_at: 'updated_at',
  display_name: 'name',
  uuid: 'id',
  host: 'host',
  node: 'host',
  vm_state: 'vm_state',
  task_state: 'task_state',
  power_state: 'power_state',
  launched_at: 'launched_at',
  terminated_at: 'terminated_at',
  availability_zone: 'availability_zone',
  project_id: 'project_id',
  user_id: 'user_id',
  hostname: 'hostname',
  key_name: 'key_name',
  image_ref: 'image_id',
  display_description: 'description',
  locked_by: 'locked_by',
  reservation_id: 'reservation_id',
};
const ADMIN_SORT_KEYS = new Set(['host', 'node']);

/** Every (vm_state, task_state) pair Nova shows as `status`. */
function statesFor(status: string): InstanceQuery['states'] {
  const out: { vm: VmState; task: 'any' | (TaskState | null)[] }[] = [];
  for (const vm of VM_STATES) {
    const tasks = ([null, ...TASK_STATES] as (TaskState | null)[]).filter(
      (t) => apiStatus(vm, t) === status,
    );
    if (tasks.length === TASK_STATES.length + 1) out.push({ vm, task: 'any' });
    else if (tasks.length > 0) out.push({ vm, task: tasks });
  }
  return out;
}

function time(v: string, field: string): number {
  const t = parseNovaTime(v);
  if (Number.isNaN(t)) throw invalid(field, `Value: ${v}. It must be an ISO 8601 time.`);
  return t;
}

const values = (v: unknown): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
const one = (q: Record<string, unknown>, k: string): string | undefined => values(q[k]).at(-1);
const truthy = (v: string | undefined) =>
  v !== undefined && ['1', 'true', 'yes', 'on', 't', 'y'].includes(v.toLowerCase());

export function parseServerQuery(
  q: Record<string, unknown>,
  mv: Microversion,
  admin: boolean,
  maxLimit: number,
): ServerListQuery {
  const limitRaw = one(q, 'limit');
  const limit = limitRaw === undefined ? maxLimit : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 0)
    throw invalid('limit', `Value: ${limitRaw}. It must be a non-negative integer.`);
  const sortKeys = values(q['sort_key']);
  const sortDirs = values(q['sort_dir']);
  const sort: { column: SortColumn; dir: 'asc' | 'desc' }[] = [];
  sortKeys.forEach((k, n) => {
    if (ADMIN_SORT_KEYS.has(k) && !admin) return; // Nova ignores them for non-admins
    const column = SORT_KEYS[k];
    if (!column)
      throw invalid(
        'sort_key',
        `Value: ${k}. It must be one of ${Object.keys(SORT_KEYS).join(', ')}.`,
      );
    const dir = sortDirs[n] ?? sortDirs[0] ?? 'desc';
    if (dir !== 'asc' && dir !== 'desc')
      throw invalid('sort_dir', `Value: ${dir}. It must be asc or desc.`);
    sort.push({ column, dir });
  });
  if (sort.length === 0) sort.push({ column: 'created_at', dir: 'desc' });
  const statuses = values(q['status']).map((s) => s.toUpperCase());
  const changesSince = one(q, 'changes-since');
  const changesBefore = mv.atLeast('2.66') ? one(q, 'changes-before') : undefined;
  const deletedAsked = admin && truthy(one(q, 'deleted'));
  const out: Record<string, unknown> = {
    allProjects:
      truthy(one(q, 'all_tenants')) ||
      (q['all_tenants'] !== undefined && one(q, 'all_tenants') === ''),
    limit: Math.min(limit, maxLimit),
    sort,
    // A deleted server shows in a list only with changes-since (or to admins asking for deleted ones).
    deleted: deletedAsked
      ? 'only'
      : changesSince !== undefined || changesBefore !== undefined
        ? 'also'
        : 'no',
  };
  const set = (k: string, v: unknown) => {
    if (v !== undefined) out[k] = v;
  };
  set('marker', one(q, 'marker'));
  const name = one(q, 'name');
  if (name !== undefined) {
    // Matched in linear time whatever the pattern; back-references and lookaround cannot be.
    const re = name.length > 255 ? new Error('longer than 255 characters') : linearRegExp(name);
    if (re instanceof Error)
      throw invalid(
        'name',
        `Value: ${name}. It is not a usable regular expression (${re.message}).`,
      );
    out['name'] = name;
  }
  if (statuses.length > 0) out['states'] = statuses.flatMap((s) => statesFor(s) ?? []);
  set('imageId', one(q, 'image')?.split('/').at(-1));
  set('flavorId', one(q, 'flavor')?.split('/').at(-1));
  set('reservationId', one(q, 'reservation_id'));
  if (changesSince !== undefined) out['changesSince'] = time(changesSince, 'changes-since');
  if (changesBefore !== undefined) out['changesBefore'] = time(changesBefore, 'changes-before');
  if (
    out['changesSince'] !== undefined &&
    out['changesBefore'] !== undefined &&
    (out['changesBefore'] as number) < (out['changesSince'] as number)
  ) {
    throw new BadRequest(
      'The value of changes-since must be less than or equal to changes-before.',
      'server_invalid',
    );
  }
  if (mv.atLeast('2.73') && one(q, 'locked') !== undefined)
    out['locked'] = truthy(one(q, 'locked'));
  // Filters Nova allows only to admins, and from 2.83 a few of them to everyone (the rest are
  // ignored for others, not refused).
  const open = admin || mv.atLeast('2.83');
  if (open) {
    set('userId', one(q, 'user_id'));
    set('availabilityZone', one(q, 'availability_zone'));
    const vm = values(q['vm_state']);
    if (vm.length > 0 && statuses.length === 0)
      out['states'] = vm
        .filter((v): v is VmState => (VM_STATES as readonly string[]).includes(v))
        .map((v) => ({ vm: v, task: 'any' }));
  }
  if (admin) {
    set('host', one(q, 'host') ?? one(q, 'node'));
    set('projectId', one(q, 'project_id') ?? one(q, 'tenant_id'));
    const uuid = one(q, 'uuid');
    if (uuid !== undefined) out['ids'] = [uuid];
  }
  return out as unknown as ServerListQuery;
}
