// What the api and the host agents say to each other over the bus (snake_case, JSON), in one
// place: the two targets (each host's agent, and the conductor every api process serves), the
// table of every method each one serves with its request and reply types, and their parsers.
// Both ends go through platform/bus/rpc.ts, so the server parses each request and the caller each
// reply; a method not in a table is refused. The instance notifications the service announces
// are in service/notifications.ts; the agents' own announcement is agent.up below.
import type { Bus, JsonValue } from '../../platform/bus/bus.ts';
import { call, cast, rpcClient } from '../../platform/bus/rpc.ts';
import { fields, nothing } from '../../platform/bus/wire.ts';
import { BadRequest } from '../../platform/errors.ts';
import { POWER_STATES, type FlavorSpec, type PowerState } from './virt/driver.ts';

/** The target every api process serves (they compete for its messages): what agents tell the cloud. */
export const CONDUCTOR_TARGET = 'compute.conductor';
/** The target of one host's agent: the work the cloud sends that host. */
export const agentTarget = (host: string): string => `compute.${host}`;

/** The steps of a live migration: prepare, finish (or abort) at the destination, the migration itself at the source. */
export const LIVE_MIGRATION_OPS = [
  'live_migration_prepare',
  'live_migration',
  'live_migration_finish',
  'live_migration_abort',
] as const;
/** The steps of a cold migration: prepare, finish (or abort) at the destination, the disks sent from the source; then confirm or revert. */
export const COLD_MIGRATION_OPS = [
  'cold_migration_prepare',
  'cold_migration',
  'cold_migration_finish',
  'cold_migration_abort',
  'cold_migration_confirm',
  'cold_migration_revert',
  'cold_migration_revert_finish',
] as const;
export type MigrationOp = (typeof LIVE_MIGRATION_OPS)[number] | (typeof COLD_MIGRATION_OPS)[number];

/** Work on one instance, each answered by one `instance.result`. */
export const HOST_OPS = [
  'build',
  'destroy',
  'stop',
  'start',
  'reboot',
  'reboot_hard',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'rescue',
  'unrescue',
  'rebuild',
  'resize',
  'confirm_resize',
  'revert_resize',
  'snapshot',
  'shelve',
  'shelve_offload',
  'unshelve',
  ...LIVE_MIGRATION_OPS,
  ...COLD_MIGRATION_OPS,
] as const;
export type HostOp = (typeof HOST_OPS)[number];
export const isMigrationOp = (op: HostOp): op is MigrationOp =>
  (LIVE_MIGRATION_OPS as readonly string[]).includes(op) ||
  (COLD_MIGRATION_OPS as readonly string[]).includes(op);
export const isLiveMigrationOp = (op: HostOp): boolean =>
  (LIVE_MIGRATION_OPS as readonly string[]).includes(op);

/** Where a live migration's source sends the instance, as the destination answered. */
export interface WireMigrationTarget {
  readonly uri: string;
  readonly disks: string | null;
}

export interface WireImage {
  readonly id: string;
  readonly disk_format: string;
  readonly checksum: string | null;
  readonly properties: Readonly<Record<string, string>>;
}

/** Everything a driver needs to create the instance (InstanceSpec without the image's byte stream). */
export interface WireInstance {
  readonly uuid: string;
  readonly name: string;
  readonly hostname: string;
  readonly flavor: FlavorSpec;
  readonly image: WireImage;
  readonly metadata: {
    readonly public_keys: Readonly<Record<string, string>>;
    readonly user_data: string | null;
    readonly meta: Readonly<Record<string, string>>;
    readonly config_drive: boolean;
  };
}

export interface HostWork {
  readonly op: HostOp;
  readonly uuid: string;
  /** The instance action this work belongs to, echoed back so the conductor records its event. */
  readonly action_id: string | null;
  /** build, rebuild and unshelve: the instance to create. */
  readonly instance?: WireInstance;
  /** resize and revert_resize: the flavor to end with. */
  readonly flavor?: FlavorSpec;
  /** rescue: the image to boot from. */
  readonly image?: WireImage;
  /** snapshot and shelve: the image record that receives the root disk. */
  readonly snapshot_image_id?: string;
  /** stop and shelve: seconds for a clean shutdown before a hard stop. */
  readonly timeout_s?: number;
  /** live_migration_prepare and cold_migration_prepare: whether the disks travel with the instance ('auto': unless the hosts share storage). */
  readonly block_migration?: boolean | 'auto';
  /** live_migration and cold_migration: where to send the instance. */
  readonly target?: WireMigrationTarget;
  /** cold_migration_finish and cold_migration_revert_finish: whether to start the instance (it was active). */
  readonly power_on?: boolean;
}

export interface HostWorkResult {
  readonly op: HostOp;
  readonly uuid: string;
  readonly host: string;
  readonly action_id: string | null;
  readonly ok: boolean;
  readonly power_state: PowerState | null;
  /** Why it failed, for the instance fault and the action event. */
  readonly message?: string;
  /** A failed build another host might manage. */
  readonly retryable?: boolean;
  /** live_migration_prepare and cold_migration_prepare: where the source is to send the instance. */
  readonly target?: WireMigrationTarget;
}

/** What an agent says of one instance's power: a lifecycle event of its driver, or its periodic sync. */
export interface PowerReport {
  readonly uuid: string;
  readonly power_state: PowerState;
  /** Why it changed, when that is a failure the cloud records (a killed process, a crash); null otherwise. */
  readonly fault: string | null;
}

export function parsePowerReports(p: JsonValue): PowerReport[] {
  if (!Array.isArray(p)) throw new BadRequest('power reports must be a list');
  return p.map((r) => {
    const o = (r ?? {}) as Record<string, unknown>;
    if (
      typeof o['uuid'] !== 'string' ||
      !(POWER_STATES as readonly unknown[]).includes(o['power_state'])
    )
      throw new BadRequest('a power report needs a uuid and a power_state');
    if (o['fault'] !== null && typeof o['fault'] !== 'string')
      throw new BadRequest("a power report's fault is a string or null");
    return {
      uuid: o['uuid'],
      power_state: o['power_state'] as PowerState,
      fault: (o['fault'] as string | null) ?? null,
    };
  });
}

export function parseHostWork(p: JsonValue): HostWork {
  const o = (p ?? {}) as Record<string, unknown>;
  if (typeof o['op'] !== 'string' || !(HOST_OPS as readonly string[]).includes(o['op']))
    throw new BadRequest(`unknown host op ${String(o['op'])}`);
  if (typeof o['uuid'] !== 'string') throw new BadRequest('host work without an instance uuid');
  return o as unknown as HostWork;
}

export function parseHostWorkResult(p: JsonValue): HostWorkResult {
  const o = (p ?? {}) as Record<string, unknown>;
  if (typeof o['op'] !== 'string' || !(HOST_OPS as readonly string[]).includes(o['op']))
    throw new BadRequest(`unknown host op ${String(o['op'])}`);
  if (
    typeof o['uuid'] !== 'string' ||
    typeof o['host'] !== 'string' ||
    typeof o['ok'] !== 'boolean'
  )
    throw new BadRequest('malformed instance result');
  return o as unknown as HostWorkResult;
}

/** What `ping` answers: who serves the target, and since when. */
export interface Pong {
  readonly host: string;
  readonly version: string;
  readonly uptime_ms: number;
}

/** `instance.console`: the tail of the guest's console log, at most `max_bytes`. */
export interface ConsoleRequest {
  readonly uuid: string;
  readonly max_bytes: number;
}

/** `host.report`: an agent's inventory of its host (HostReport once the conductor has it). */
export interface WireHostReport {
  readonly host: string;
  readonly hypervisor_type: string;
  readonly hypervisor_version: number;
  readonly cpu_info: string;
  readonly host_ip: string | null;
  readonly vcpus: number;
  readonly memory_mb: number;
  readonly disk_gb: number;
  readonly agent_version: string;
  /** Where the host's console proxy is reached, or why it has none (too long or empty: none). */
  readonly console_url: string | null;
  readonly console_note: string | null;
  /** The ratios the host's configuration sets; null ones are the cloud's defaults. */
  readonly cpu_allocation_ratio: number | null;
  readonly ram_allocation_ratio: number | null;
  readonly disk_allocation_ratio: number | null;
}

/** The conductor's answer to `host.report`: the host as the cloud recorded it. */
export interface HostRegistered {
  readonly host: string;
  readonly hypervisor_id: string;
  readonly availability_zone: string;
}

/** The conductor's answer to `host.heartbeat`: forgotten hosts report again; forgotten or counted-down ones reconcile. */
export interface HeartbeatReply {
  readonly known: boolean;
  readonly reconcile?: boolean;
}

/** `host.reconcile`: what the hypervisor has. */
export interface HostInventory {
  readonly host: string;
  readonly instances: readonly { readonly uuid: string; readonly power_state: PowerState | null }[];
}

/** The conductor's answer to `host.reconcile`: guests to destroy (unknown) and to forget (living elsewhere). */
export interface ReconcileReply {
  readonly destroy: readonly string[];
  readonly forget: readonly string[];
}

/** The conductor's answer to `console.consume`: whose console the token opens, or why not. */
export type TokenAnswer = { readonly instance_id: string } | { readonly refused: string };

/** `image.read`'s answer: base64 bytes from the requested offset, and whether the image ends there. */
export interface ImageChunk {
  readonly data: string;
  readonly eof: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DISK_FORMAT = /^[a-z0-9]{1,16}$/;

/** An optional text field of a report: a string of at most 2000 characters, else null. */
const optionalText = (v: JsonValue | undefined): string | null =>
  typeof v === 'string' && v !== '' && v.length <= 2000 ? v : null;

export function parseHostReport(v: JsonValue): WireHostReport {
  const f = fields(v, 'host report');
  const text = (k: string) => f.string(k, { nonEmpty: true });
  const ratio = (k: string): number | null => {
    const x = f.raw[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || x > 1000)
      throw new BadRequest(`host report: ${k} must be a number above 0`);
    return x;
  };
  return {
    host: text('host'),
    hypervisor_type: text('hypervisor_type'),
    hypervisor_version: f.count('hypervisor_version'),
    cpu_info: text('cpu_info'),
    host_ip: typeof f.raw['host_ip'] === 'string' ? f.raw['host_ip'] : null,
    vcpus: f.count('vcpus'),
    memory_mb: f.count('memory_mb'),
    disk_gb: f.count('disk_gb'),
    agent_version: text('agent_version'),
    console_url: optionalText(f.raw['console_url']),
    console_note: optionalText(f.raw['console_note']),
    cpu_allocation_ratio: ratio('cpu_allocation_ratio'),
    ram_allocation_ratio: ratio('ram_allocation_ratio'),
    disk_allocation_ratio: ratio('disk_allocation_ratio'),
  };
}

const hostOnly = (what: string) => (v: JsonValue) => ({ host: fields(v, what).string('host') });

export function parseHostInventory(v: JsonValue): HostInventory {
  const f = fields(v, 'host reconcile');
  const list = f.value('instances');
  if (!Array.isArray(list)) throw new BadRequest('host reconcile: instances must be a list');
  return {
    host: f.string('host'),
    instances: list.map((x) => {
      const i = fields(x, 'host reconcile: an instance');
      const p = i.raw['power_state'];
      return {
        uuid: i.string('uuid'),
        power_state: p === null || p === undefined ? null : i.oneOf('power_state', POWER_STATES),
      };
    }),
  };
}

export function parseTokenAnswer(v: JsonValue): TokenAnswer {
  const f = fields(v, 'console token answer');
  return typeof f.raw['instance_id'] === 'string'
    ? { instance_id: f.raw['instance_id'] }
    : { refused: f.string('refused') };
}

/** What each host's agent serves (agentTarget). */
export const AGENT_PROTOCOL = {
  ping: call(
    (v): Readonly<Record<string, never>> => (fields(v, 'ping'), {}),
    (v): Pong => {
      const f = fields(v, 'pong');
      return {
        host: f.string('host'),
        version: f.string('version'),
        uptime_ms: f.count('uptime_ms'),
      };
    },
  ),
  /** Work on one instance; its result comes back as an `instance.result` cast to the conductor. */
  'instance.work': cast(parseHostWork),
  'instance.console': call(
    (v): ConsoleRequest => {
      const f = fields(v, 'instance.console');
      const max = f.raw['max_bytes'];
      return { uuid: f.string('uuid'), max_bytes: typeof max === 'number' ? max : 1 << 20 };
    },
    (v) => ({ output: fields(v, 'console output').string('output') }),
    { timeoutMs: 30_000 },
  ),
} as const;

/** What the conductor serves (CONDUCTOR_TARGET): agents' reports, results and image traffic. */
export const CONDUCTOR_PROTOCOL = {
  'host.report': call(
    parseHostReport,
    (v): HostRegistered => {
      const f = fields(v, 'host registration');
      return {
        host: f.string('host'),
        hypervisor_id: f.string('hypervisor_id'),
        availability_zone: f.string('availability_zone'),
      };
    },
    { timeoutMs: 10_000 },
  ),
  'host.heartbeat': call(
    hostOnly('host heartbeat'),
    (v): HeartbeatReply => {
      const f = fields(v, 'heartbeat answer');
      const reconcile = f.optionalBoolean('reconcile');
      return { known: f.boolean('known'), ...(reconcile !== undefined ? { reconcile } : {}) };
    },
    { timeoutMs: 10_000 },
  ),
  /** Power states from an agent (events, periodic sync); answers the instances to power off. */
  'host.power': call(
    (v) => {
      const f = fields(v, 'host power');
      return { host: f.string('host'), instances: parsePowerReports(f.raw['instances'] ?? null) };
    },
    (v) => ({ stop: fields(v, 'host power answer').stringList('stop') }),
    { timeoutMs: 30_000 },
  ),
  'host.reconcile': call(
    parseHostInventory,
    (v): ReconcileReply => {
      const f = fields(v, 'reconcile answer');
      return { destroy: f.stringList('destroy'), forget: f.optionalStringList('forget') ?? [] };
    },
    { timeoutMs: 60_000 },
  ),
  'instance.result': cast(parseHostWorkResult),
  /** A host's console proxy presents a token: consumed whatever the answer (one-time). */
  'console.consume': call(
    (v) => {
      const f = fields(v, 'console.consume');
      return { token: f.string('token', { max: 200 }), host: f.string('host') };
    },
    parseTokenAnswer,
    { timeoutMs: 10_000 },
  ),
  /** Image bytes for agents in other processes (image-over-bus.ts). */
  'image.read': call(
    (v) => {
      const f = fields(v, 'image.read');
      return {
        image_id: f.string('image_id', { pattern: UUID }),
        offset: f.count('offset'),
        length: f.count('length'),
      };
    },
    (v): ImageChunk => {
      const f = fields(v, 'image chunk');
      return { data: f.string('data'), eof: f.boolean('eof') };
    },
    { timeoutMs: 60_000 },
  ),
  'image.upload.chunk': call(
    (v) => {
      const f = fields(v, 'image.upload.chunk');
      return {
        upload_id: f.string('upload_id', { pattern: UUID }),
        offset: f.count('offset'),
        data: f.string('data'),
      };
    },
    nothing,
    { timeoutMs: 60_000 },
  ),
  'image.upload.finish': call(
    (v) => {
      const f = fields(v, 'image.upload.finish');
      return {
        upload_id: f.string('upload_id', { pattern: UUID }),
        image_id: f.string('image_id', { pattern: UUID }),
        disk_format: f.string('disk_format', { pattern: DISK_FORMAT }),
      };
    },
    nothing,
    { timeoutMs: 600_000 },
  ),
} as const;

export type AgentProtocol = typeof AGENT_PROTOCOL;
export type ConductorProtocol = typeof CONDUCTOR_PROTOCOL;

/** The client of one host's agent. */
export const agentClient = (bus: Bus, host: string) =>
  rpcClient(bus, agentTarget(host), AGENT_PROTOCOL);
/** The client of the conductor (whichever api process takes the message). */
export const conductorClient = (bus: Bus) => rpcClient(bus, CONDUCTOR_TARGET, CONDUCTOR_PROTOCOL);

/** The topic agents announce themselves on; `agent.up` once an agent serves its target. The payload
 * goes bare (no notification envelope), as subscribers of this topic read `host` from it. */
export const AGENT_TOPIC = 'compute';
export interface AgentUp {
  readonly host: string;
  readonly version: string;
}
export const announceAgentUp = (bus: Bus, up: AgentUp): Promise<void> =>
  bus.notify(AGENT_TOPIC, 'agent.up', { host: up.host, version: up.version });
