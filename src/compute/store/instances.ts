// SQL for instances: rows, Nova's list query (filters, sorting, marker paging, deleted rows for
// changes-since), and the one writer of vm_state/task_state (transition), which applies states.ts
// as a compare-and-swap UPDATE, like Nova's expected_task_state.
import { sql, type ExpressionBuilder, type Selectable } from 'kysely';
import type { ComputeTables, InstanceTable, ComputeExecutor } from './tables.ts';
import { isPostgres, parseJson } from '../../platform/db/store-helpers.ts';
import { InvalidState } from '../../platform/errors.ts';
import { compareAndSwap } from '../../platform/db/transitions.ts';
import {
  instanceTransitions,
  refusalMessage,
  type InstanceAction,
  type InstanceTransition,
  type TaskState,
  type VmState,
} from '../states.ts';
import type {
  Instance,
  InstanceFault,
  InstanceFlavor,
  Migration,
  RequestedNetworks,
  SchedulingRequest,
} from '../model.ts';

const NO_FLAVOR: InstanceFlavor = {
  id: '',
  name: '',
  vcpus: 0,
  memoryMb: 0,
  rootGb: 0,
  ephemeralGb: 0,
  swapMb: 0,
  extraSpecs: {},
};
const NO_REQUEST: SchedulingRequest = {
  availabilityZone: null,
  forcedHost: null,
  groupId: null,
  sameHost: [],
  differentHost: [],
  imageProperties: {},
  tried: [],
};
const num = (v: number | null) => (v === null ? null : Number(v));

export const toInstance = (r: Selectable<InstanceTable>): Instance => ({
  id: r.id,
  name: r.name,
  description: r.description,
  projectId: r.project_id,
  userId: r.user_id,
  host: r.host,
  availabilityZone: r.availability_zone,
  flavor: parseJson<InstanceFlavor>(r.flavor, NO_FLAVOR),
  imageId: r.image_id,
  kernelId: r.kernel_id,
  ramdiskId: r.ramdisk_id,
  keyName: r.key_name,
  keyData: r.key_data,
  userData: r.user_data,
  metadata: parseJson(r.metadata, {}),
  hostname: r.hostname,
  reservationId: r.reservation_id,
  launchIndex: Number(r.launch_index),
  configDrive: Number(r.config_drive) === 1,
  accessIpv4: r.access_ipv4,
  accessIpv6: r.access_ipv6,
  securityGroups: parseJson<string[]>(r.security_groups, []),
  requestedNetworks: parseJson<RequestedNetworks>(r.requested_networks, 'auto'),
  request: { ...NO_REQUEST, ...parseJson<Partial<SchedulingRequest>>(r.request_spec, {}) },
  migration: r.migration === null ? null : parseJson<Migration | null>(r.migration, null),
  vmState: r.vm_state as VmState,
  taskState: r.task_state as TaskState | null,
  powerState: Number(r.power_state),
  lockedBy: r.locked_by,
  lockedReason: r.locked_reason,
  fault: r.fault === null ? null : parseJson<InstanceFault | null>(r.fault, null),
  shelvedImageId: r.shelved_image_id ?? null,
  progress: num(r.progress),
  launchedAt: num(r.launched_at),
  terminatedAt: num(r.terminated_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  deletedAt: num(r.deleted_at),
});

export type NewInstance = Pick<
  Instance,
  | 'id'
  | 'name'
  | 'description'
  | 'projectId'
  | 'userId'
  | 'availabilityZone'
  | 'flavor'
  | 'imageId'
  | 'kernelId'
  | 'ramdiskId'
  | 'keyName'
  | 'keyData'
  | 'userData'
  | 'metadata'
  | 'hostname'
  | 'reservationId'
  | 'launchIndex'
  | 'configDrive'
  | 'accessIpv4'
  | 'accessIpv6'
  | 'securityGroups'
  | 'requestedNetworks'
  | 'request'
  | 'createdAt'
>;

/** New instances start building, waiting for the scheduler; a multi-create in few statements. */
export async function insertInstances(
  db: ComputeExecutor,
  list: readonly NewInstance[],
): Promise<void> {
  // Chunks keep each statement under SQLite's 32,766 bound parameters (~40 per row).
  for (let at = 0; at < list.length; at += 200) await insertChunk(db, list.slice(at, at + 200));
}

async function insertChunk(db: ComputeExecutor, list: readonly NewInstance[]): Promise<void> {
  if (list.length === 0) return;
  await db
    .insertInto('instances')
    .values(
      list.map((i) => ({
        id: i.id,
        name: i.name,
        description: i.description,
        project_id: i.projectId,
        user_id: i.userId,
        host: null,
        availability_zone: i.availabilityZone,
        flavor: JSON.stringify(i.flavor),
        vcpus: i.flavor.vcpus,
        memory_mb: i.flavor.memoryMb,
        image_id: i.imageId,
        kernel_id: i.kernelId,
        ramdisk_id: i.ramdiskId,
        key_name: i.keyName,
        key_data: i.keyData,
        user_data: i.userData,
        metadata: JSON.stringify(i.metadata),
        hostname: i.hostname,
        reservation_id: i.reservationId,
        launch_index: i.launchIndex,
        config_drive: i.configDrive ? 1 : 0,
        access_ipv4: i.accessIpv4,
        access_ipv6: i.accessIpv6,
        security_groups: JSON.stringify(i.securityGroups),
        requested_networks: JSON.stringify(i.requestedNetworks),
        request_spec: JSON.stringify(i.request),
        migration: null,
        vm_state: 'building',
        task_state: 'scheduling',
        power_state: 0,
        locked_by: null,
        locked_reason: null,
        fault: null,
        launched_at: null,
        terminated_at: null,
        shelved_image_id: null,
        progress: null,
        created_at: i.createdAt,
        updated_at: i.createdAt,
        deleted_at: null,
      })),
    )
    .execute();
}

export async function getInstance(
  db: ComputeExecutor,
  id: string,
  opts: { withDeleted?: boolean } = {},
): Promise<Instance | undefined> {
  let q = db.selectFrom('instances').selectAll().where('id', '=', id);
  if (!opts.withDeleted) q = q.where('deleted_at', 'is', null);
  const r = await q.executeTakeFirst();
  return r && toInstance(r);
}

export async function getInstances(
  db: ComputeExecutor,
  ids: readonly string[],
): Promise<Instance[]> {
  if (ids.length === 0) return [];
  return (
    await db
      .selectFrom('instances')
      .selectAll()
      .where('id', 'in', [...ids])
      .where('deleted_at', 'is', null)
      .execute()
  ).map(toInstance);
}

/** Live instances placed on a host (an agent reconciling, a service delete). */
export async function instancesOnHost(db: ComputeExecutor, host: string): Promise<Instance[]> {
  return (
    await db
      .selectFrom('instances')
      .selectAll()
      .where('host', '=', host)
      .where('deleted_at', 'is', null)
      .execute()
  ).map(toInstance);
}

/** Instances stuck in `task` since before `before` (a process stopped between two steps). */
export async function stalledInstances(
  db: ComputeExecutor,
  tasks: readonly TaskState[],
  before: number,
  limit: number,
): Promise<Instance[]> {
  return (
    await db
      .selectFrom('instances')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where('task_state', 'in', [...tasks])
      .where('updated_at', '<', before)
      .orderBy('updated_at')
      .limit(limit)
      .execute()
  ).map(toInstance);
}

// --- the list query

/** Columns servers may be sorted by (Nova's sort_key names map onto them in the API). */
export const SORT_COLUMNS = [
  'created_at',
  'updated_at',
  'name',
  'id',
  'host',
  'vm_state',
  'task_state',
  'power_state',
  'launched_at',
  'terminated_at',
  'availability_zone',
  'project_id',
  'user_id',
  'hostname',
  'key_name',
  'image_id',
  'description',
  'locked_by',
  'reservation_id',
] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];
const NUMERIC: ReadonlySet<SortColumn> = new Set([
  'created_at',
  'updated_at',
  'power_state',
  'launched_at',
  'terminated_at',
]);

export interface InstanceQuery {
  readonly projectId?: string;
  readonly userId?: string;
  /** A regular expression on the name, as Nova matches it. */
  readonly name?: string;
  /** (vm_state, task_states) pairs any of which matches; `task: 'any'` ignores the task state. */
  readonly states?: readonly {
    readonly vm: VmState;
    readonly task: 'any' | readonly (TaskState | null)[];
  }[];
  readonly host?: string;
  readonly imageId?: string;
  readonly flavorId?: string;
  readonly reservationId?: string;
  readonly availabilityZone?: string;
  readonly locked?: boolean;
  readonly ids?: readonly string[];
  readonly changesSince?: number;
  readonly changesBefore?: number;
  /** Deleted instances too (Nova lists them with changes-since, and to admins with deleted=true). */
  readonly deleted: 'no' | 'also' | 'only';
  readonly sort: readonly { readonly column: SortColumn; readonly dir: 'asc' | 'desc' }[];
  readonly limit: number;
  /** Continue after this instance (in the sort order). */
  readonly marker?: Instance;
}

type EB = ExpressionBuilder<ComputeTables, 'instances'>;
// Nullable sort columns compare as '' or 0, so marker paging has a total order.
const sortExpr = (eb: EB, c: SortColumn) =>
  eb.fn.coalesce(eb.ref(c), eb.val(NUMERIC.has(c) ? 0 : '') as never);

function markerValue(m: Instance, c: SortColumn): string | number {
  const v: Record<SortColumn, string | number | null> = {
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    name: m.name,
    id: m.id,
    host: m.host,
    vm_state: m.vmState,
    task_state: m.taskState,
    power_state: m.powerState,
    launched_at: m.launchedAt,
    terminated_at: m.terminatedAt,
    availability_zone: m.availabilityZone,
    project_id: m.projectId,
    user_id: m.userId,
    hostname: m.hostname,
    key_name: m.keyName,
    image_id: m.imageId,
    description: m.description,
    locked_by: m.lockedBy,
    reservation_id: m.reservationId,
  };
  return v[c] ?? (NUMERIC.has(c) ? 0 : '');
}

export async function listInstances(db: ComputeExecutor, q: InstanceQuery): Promise<Instance[]> {
  // The id ends every ordering so that equal keys still page deterministically.
  const sort = q.sort.some((s) => s.column === 'id')
    ? q.sort
    : [...q.sort, { column: 'id' as const, dir: q.sort[0]?.dir ?? 'desc' }];
  let query = db.selectFrom('instances').selectAll();
  if (q.deleted === 'no') query = query.where('deleted_at', 'is', null);
  if (q.deleted === 'only') query = query.where('deleted_at', 'is not', null);
  if (q.projectId !== undefined) query = query.where('project_id', '=', q.projectId);
  if (q.userId !== undefined) query = query.where('user_id', '=', q.userId);
  if (q.name !== undefined)
    query = query.where(
      isPostgres(db) ? sql<boolean>`name ~ ${q.name}` : sql<boolean>`name REGEXP ${q.name}`,
    );
  if (q.host !== undefined) query = query.where('host', '=', q.host);
  if (q.imageId !== undefined) query = query.where('image_id', '=', q.imageId);
  if (q.reservationId !== undefined) query = query.where('reservation_id', '=', q.reservationId);
  if (q.availabilityZone !== undefined)
    query = query.where('availability_zone', '=', q.availabilityZone);
  if (q.flavorId !== undefined)
    query = query.where(
      'flavor',
      'like',
      `{"id":${JSON.stringify(q.flavorId).replace(/[%_\\]/g, (c) => `\\${c}`)},%`,
    );
  if (q.locked !== undefined) query = query.where('locked_by', q.locked ? 'is not' : 'is', null);
  if (q.ids !== undefined)
    query =
      q.ids.length === 0 ? query.where(sql<boolean>`1 = 0`) : query.where('id', 'in', [...q.ids]);
  if (q.changesSince !== undefined) query = query.where('updated_at', '>=', q.changesSince);
  if (q.changesBefore !== undefined) query = query.where('updated_at', '<=', q.changesBefore);
  if (q.states !== undefined) {
    const states = q.states;
    query = query.where((eb) =>
      states.length === 0
        ? sql<boolean>`1 = 0`
        : eb.or(
            states.map((s) => {
              if (s.task === 'any') return eb('vm_state', '=', s.vm);
              const tasks = s.task.filter((t): t is TaskState => t !== null);
              return eb.and([
                eb('vm_state', '=', s.vm),
                eb.or([
                  ...(tasks.length > 0 ? [eb('task_state', 'in', tasks)] : []),
                  ...(s.task.includes(null) ? [eb('task_state', 'is', null)] : []),
                ]),
              ]);
            }),
          ),
    );
  }
  if (q.marker) {
    const m = q.marker;
    // Keyset: rows after the marker in lexicographic order of the sort keys.
    query = query.where((eb) =>
      eb.or(
        sort.map((s, i) =>
          eb.and([
            ...sort
              .slice(0, i)
              .map((p) => eb(sortExpr(eb, p.column), '=', markerValue(m, p.column) as never)),
            eb(
              sortExpr(eb, s.column),
              s.dir === 'asc' ? '>' : '<',
              markerValue(m, s.column) as never,
            ),
          ]),
        ),
      ),
    );
  }
  for (const s of sort) query = query.orderBy((eb) => sortExpr(eb, s.column), s.dir);
  return (await query.limit(q.limit).execute()).map(toInstance);
}

// --- state

/** Columns a transition may set along with the states (the host chosen, power state, a fault, ...). */
export type InstanceFields = Partial<
  Pick<
    Selectable<InstanceTable>,
    | 'host'
    | 'availability_zone'
    | 'power_state'
    | 'fault'
    | 'launched_at'
    | 'terminated_at'
    | 'flavor'
    | 'vcpus'
    | 'memory_mb'
    | 'image_id'
    | 'deleted_at'
    | 'migration'
    | 'request_spec'
    | 'locked_by'
    | 'locked_reason'
    | 'shelved_image_id'
    | 'progress'
  >
>;

/**
 * Applies `action` (states.ts) as one compare-and-swap UPDATE that matches only the states the
 * table allows it from, with `fields` set in the same statement. Throws
 * InvalidState (409) naming the current state when another action got there first; returns
 * undefined when the instance is gone.
 */
export async function transition(
  db: ComputeExecutor,
  id: string,
  action: InstanceAction,
  fields: InstanceFields,
  now: number,
): Promise<Instance | undefined> {
  const t: InstanceTransition = instanceTransitions[action];
  // A task that ends takes its progress with it (the next task starts from none).
  const progress = t.to.task_state === null && !('progress' in fields) ? { progress: null } : {};
  const changed = await compareAndSwap(db, 'instances', 'id', id, t, {
    set: { ...progress, ...fields, updated_at: now },
    scope: { deleted_at: null },
    refuse: (cur) =>
      new InvalidState(refusalMessage(action, id, cur), 'instance_invalid_state', {
        vmState: cur.vm_state,
        taskState: cur.task_state,
        action,
      }),
  });
  if (!changed) return undefined;
  return getInstance(db, id, { withDeleted: true });
}

/**
 * Records how far the instance's task has come, while it runs one of `tasks` (a step reported late,
 * after the task ended or moved on, changes nothing). Returns whether it was recorded.
 */
export async function noteProgress(
  db: ComputeExecutor,
  id: string,
  tasks: readonly TaskState[],
  progress: number,
  now: number,
): Promise<boolean> {
  if (tasks.length === 0) return false;
  const r = await db
    .updateTable('instances')
    .set({ progress: Math.max(0, Math.min(100, Math.round(progress))), updated_at: now })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .where('task_state', 'in', [...tasks])
    // Never backwards: a step that arrives after a later one leaves the later one's progress.
    .where((eb) => eb.or([eb('progress', 'is', null), eb('progress', '<', progress)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Fields that are not state: name, description, metadata, lock, access IPs; the host and migration an action's work targets. */
export async function updateInstance(
  db: ComputeExecutor,
  id: string,
  fields: Partial<
    Pick<
      Selectable<InstanceTable>,
      | 'name'
      | 'description'
      | 'metadata'
      | 'hostname'
      | 'access_ipv4'
      | 'access_ipv6'
      | 'locked_by'
      | 'locked_reason'
      | 'power_state'
      | 'request_spec'
      | 'host'
      | 'migration'
      | 'image_id'
      | 'shelved_image_id'
    >
  >,
  now: number,
): Promise<Instance | undefined> {
  await db
    .updateTable('instances')
    .set({ ...fields, updated_at: now })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
  return getInstance(db, id);
}

/** Instances that ran at some point in [start, end) (os-simple-tenant-usage), deleted ones included. */
export async function instancesRunningIn(
  db: ComputeExecutor,
  f: { start: number; end: number; projectId?: string },
): Promise<Instance[]> {
  let q = db
    .selectFrom('instances')
    .selectAll()
    .where('launched_at', 'is not', null)
    .where('launched_at', '<', f.end)
    .where((eb) => eb.or([eb('terminated_at', 'is', null), eb('terminated_at', '>', f.start)]))
    .orderBy('project_id')
    .orderBy('created_at');
  if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
  return (await q.execute()).map(toInstance);
}

/** Live instances per host (hypervisor running_vms, service delete). */
export async function countByHost(
  db: ComputeExecutor,
  hosts?: readonly string[],
): Promise<Map<string, number>> {
  let q = db
    .selectFrom('instances')
    .select((eb) => ['host', eb.fn.countAll<number>().as('n')])
    .where('deleted_at', 'is', null)
    .where('host', 'is not', null)
    .groupBy('host');
  if (hosts) {
    if (hosts.length === 0) return new Map();
    q = q.where('host', 'in', [...hosts]);
  }
  return new Map((await q.execute()).map((r) => [r.host!, Number(r.n)]));
}

/**
 * Takes over a stalled instance: bumps its updated_at only if nobody touched it since `seen`, so
 * of several api replicas sweeping at once exactly one picks it up.
 */
export async function takeOver(
  db: ComputeExecutor,
  id: string,
  seen: number,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('instances')
    .set({ updated_at: now })
    .where('id', '=', id)
    .where('updated_at', '=', seen)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
