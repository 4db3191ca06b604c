// What compute announces on the bus (topic 'versioned_notifications', as Nova's versioned
// notifications are named): instance.<action>.start when host work is sent, .end (or .error) once
// its result is recorded, and the create and delete of each server. The catalogue is the contract
// subscribers (telemetry, webhooks, the dashboard) parse with; emitting never fails the lifecycle.
import type { Bus, JsonValue } from '../../platform/bus/bus.ts';
import { event, notifier, type Catalogue } from '../../platform/bus/notifications.ts';
import { fields } from '../../platform/bus/wire.ts';
import type { Logger } from '../../platform/log.ts';
import type { HostOp } from '../agent/protocol.ts';
import { POWER_STATE_CODES } from '../states.ts';
import type { Instance } from '../model.ts';

export const NOTIFICATION_TOPIC = 'versioned_notifications';
/** The version of the payload below; a change to its fields changes it. */
export const INSTANCE_PAYLOAD_VERSION = '1.0';

/** The instance as a notification carries it (snake_case, times in ISO 8601). */
export interface InstanceData {
  readonly uuid: string;
  readonly display_name: string;
  readonly tenant_id: string;
  readonly user_id: string;
  readonly host: string | null;
  readonly availability_zone: string | null;
  readonly state: string;
  readonly task_state: string | null;
  readonly power_state: string;
  readonly flavor: {
    readonly flavorid: string;
    readonly name: string;
    readonly vcpus: number;
    readonly memory_mb: number;
    readonly root_gb: number;
    readonly ephemeral_gb: number;
    readonly swap: number;
  };
  readonly image_uuid: string | null;
  readonly created_at: string;
  readonly launched_at: string | null;
  readonly terminated_at: string | null;
  /** Why an .error event happened (the instance's fault message), else null. */
  readonly fault: string | null;
}

/** A versioned object, as Nova's notification payloads are. */
export interface InstancePayload {
  readonly 'nova_object.name': 'InstanceActionPayload';
  readonly 'nova_object.namespace': 'nova';
  readonly 'nova_object.version': string;
  readonly 'nova_object.data': InstanceData;
}

export function parseInstancePayload(v: JsonValue): InstancePayload {
  const o = fields(v, 'instance payload');
  if (o.raw['nova_object.name'] !== 'InstanceActionPayload')
    throw new Error('instance payload: not an InstanceActionPayload');
  const version = o.string('nova_object.version');
  if (version.split('.')[0] !== INSTANCE_PAYLOAD_VERSION.split('.')[0])
    throw new Error(`instance payload: version ${version} is not ${INSTANCE_PAYLOAD_VERSION}`);
  const d = fields(o.value('nova_object.data'), 'instance payload data');
  const f = fields(d.value('flavor'), 'instance payload flavor');
  return {
    'nova_object.name': 'InstanceActionPayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': version,
    'nova_object.data': {
      uuid: d.string('uuid'),
      display_name: d.string('display_name'),
      tenant_id: d.string('tenant_id'),
      user_id: d.string('user_id'),
      host: d.stringOrNull('host'),
      availability_zone: d.stringOrNull('availability_zone'),
      state: d.string('state'),
      task_state: d.stringOrNull('task_state'),
      power_state: d.string('power_state'),
      flavor: {
        flavorid: f.string('flavorid'),
        name: f.string('name'),
        vcpus: f.count('vcpus'),
        memory_mb: f.count('memory_mb'),
        root_gb: f.count('root_gb'),
        ephemeral_gb: f.count('ephemeral_gb'),
        swap: f.count('swap'),
      },
      image_uuid: d.stringOrNull('image_uuid'),
      created_at: d.string('created_at'),
      launched_at: d.stringOrNull('launched_at'),
      terminated_at: d.stringOrNull('terminated_at'),
      fault: d.stringOrNull('fault'),
    },
  };
}

/** The actions announced, and whether a failure has its own .error event (else it has no end). */
const ACTIONS = {
  create: true,
  delete: false,
  power_off: false,
  power_on: false,
  reboot: true,
  pause: false,
  unpause: false,
  suspend: false,
  resume: false,
  rescue: false,
  unrescue: false,
  rebuild: true,
  resize: true,
  resize_prep: false,
  resize_finish: false,
  resize_confirm: false,
  resize_revert: false,
  snapshot: false,
  shelve: false,
  shelve_offload: false,
  unshelve: false,
  live_migration_pre: false,
  live_migration_post_dest: false,
  live_migration_rollback_dest: false,
} as const;
type Action = keyof typeof ACTIONS;
type ErrorAction = { [A in Action]: (typeof ACTIONS)[A] extends true ? A : never }[Action];
const hasError = (a: Action): a is ErrorAction => ACTIONS[a];
export type InstanceEvent =
  `instance.${Action}.${'start' | 'end'}` | `instance.${ErrorAction}.error`;

/** Every instance event (with an .error only where ACTIONS says so), all with the same payload. */
export const COMPUTE_NOTIFICATIONS = Object.fromEntries(
  (Object.entries(ACTIONS) as [Action, boolean][]).flatMap(([a, hasError]) => [
    [`instance.${a}.start`, event(parseInstancePayload)],
    [`instance.${a}.end`, event(parseInstancePayload)],
    ...(hasError ? [[`instance.${a}.error`, event(parseInstancePayload, 'ERROR')] as const] : []),
  ]),
) as Readonly<Record<InstanceEvent, ReturnType<typeof event<InstancePayload>>>> satisfies Catalogue;

/** The action each piece of host work is announced as (null: a step with no event of its own). */
const ACTION_OF: Readonly<Record<HostOp, Action | null>> = {
  build: 'create',
  destroy: 'delete',
  stop: 'power_off',
  start: 'power_on',
  reboot: 'reboot',
  reboot_hard: 'reboot',
  pause: 'pause',
  unpause: 'unpause',
  suspend: 'suspend',
  resume: 'resume',
  rescue: 'rescue',
  unrescue: 'unrescue',
  rebuild: 'rebuild',
  resize: 'resize',
  confirm_resize: 'resize_confirm',
  revert_resize: 'resize_revert',
  snapshot: 'snapshot',
  shelve: 'shelve',
  shelve_offload: 'shelve_offload',
  unshelve: 'unshelve',
  live_migration_prepare: 'live_migration_pre',
  live_migration: null,
  live_migration_finish: 'live_migration_post_dest',
  live_migration_abort: 'live_migration_rollback_dest',
  cold_migration_prepare: 'resize_prep',
  cold_migration: 'resize',
  cold_migration_finish: 'resize_finish',
  cold_migration_abort: null,
  cold_migration_confirm: 'resize_confirm',
  cold_migration_revert: 'resize_revert',
  cold_migration_revert_finish: null,
};

const POWER_NAMES = new Map<number, string>(
  Object.entries(POWER_STATE_CODES).map(([name, code]) => [code, name]),
);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function instancePayload(i: Instance): InstancePayload {
  return {
    'nova_object.name': 'InstanceActionPayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': INSTANCE_PAYLOAD_VERSION,
    'nova_object.data': {
      uuid: i.id,
      display_name: i.name,
      tenant_id: i.projectId,
      user_id: i.userId,
      host: i.host,
      availability_zone: i.availabilityZone,
      state: i.vmState,
      task_state: i.taskState,
      power_state: POWER_NAMES.get(i.powerState) ?? 'nostate',
      flavor: {
        flavorid: i.flavor.id,
        name: i.flavor.name,
        vcpus: i.flavor.vcpus,
        memory_mb: i.flavor.memoryMb,
        root_gb: i.flavor.rootGb,
        ephemeral_gb: i.flavor.ephemeralGb,
        swap: i.flavor.swapMb,
      },
      image_uuid: i.imageId,
      created_at: iso(i.createdAt)!,
      launched_at: iso(i.launchedAt),
      terminated_at: iso(i.terminatedAt),
      fault: i.fault?.message ?? null,
    },
  };
}

/** Announces instance events on the bus once it is attached; failures to send are only logged. */
export function createInstanceNotifications(deps: {
  readonly bus: () => Bus | undefined;
  readonly log: Logger;
  readonly now: () => number;
}) {
  const publisher = (host: string | null) =>
    host === null ? 'nova-conductor' : `nova-compute:${host}`;
  async function emit(e: InstanceEvent, i: Instance, host: string | null): Promise<void> {
    const bus = deps.bus();
    if (!bus) return;
    await notifier(bus, NOTIFICATION_TOPIC, COMPUTE_NOTIFICATIONS, { now: deps.now })
      .emit(e, instancePayload(i), publisher(host))
      .catch((err: unknown) => deps.log.warn({ err, event: e, instance: i.id }, 'notify failed'));
  }
  return {
    emit,
    /** Host work sent to `host`. */
    async started(op: HostOp, i: Instance, host: string): Promise<void> {
      const a = ACTION_OF[op];
      if (a !== null) await emit(`instance.${a}.start`, i, host);
    },
    /** Host work done (ok) or failed; failures are announced only where the action has .error. */
    async finished(op: HostOp, ok: boolean, i: Instance, host: string | null): Promise<void> {
      const a = ACTION_OF[op];
      if (a === null) return;
      if (ok) await emit(`instance.${a}.end`, i, host);
      else if (hasError(a)) await emit(`instance.${a}.error`, i, host);
    },
  };
}

export type InstanceNotifications = ReturnType<typeof createInstanceNotifications>;
