// What the api and the host agents say to each other over the bus (snake_case, JSON), in one
// place: the two targets (each host's agent, and the conductor every api process serves), the
// table of every method each one serves with its request and reply types, and their parsers (the
// host work, its results and power reports are in protocol-host-work.ts, re-exported here).
// Both ends go through platform/bus/rpc.ts, so the server parses each request and the caller each
// reply; a method not in a table is refused. The instance notifications the service announces
// are in service/notifications.ts; the agents' own announcement is agent.up below.
import type { Bus, JsonValue } from '../../platform/bus/bus.ts';
import { call, cast, rpcClient } from '../../platform/bus/rpc.ts';
import { fields, nothing } from '../../platform/bus/wire.ts';
import { BadRequest } from '../../platform/errors.ts';
import { POWER_STATES, type PowerState } from './virt/driver.ts';
import {
  parseHostWork,
  parseHostWorkResult,
  parseHostWorkStep,
  parsePowerReports,
} from './protocol-host-work.ts';

export {
  COLD_MIGRATION_OPS,
  HOST_OPS,
  LIVE_MIGRATION_OPS,
  WORK_STEPS,
  actionName,
  isLiveMigrationOp,
  isMigrationOp,
  parseHostWork,
  parseHostWorkResult,
  parseHostWorkStep,
  parsePowerReports,
  type HostOp,
  type HostWork,
  type HostWorkResult,
  type HostWorkStep,
  type MigrationOp,
  type PowerReport,
  type WireImage,
  type WireInstance,
  type WireMigrationTarget,
  type WorkStep,
} from './protocol-host-work.ts';

/** The target every api process serves (they compete for its messages): what agents tell the cloud. */
export const CONDUCTOR_TARGET = 'compute.conductor';
/** The target of one host's agent: the work the cloud sends that host. */
export const agentTarget = (host: string): string => `compute.${host}`;

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
  /** Where host work is while it runs (instance.result ends it); may arrive after the result. */
  'instance.step': cast(parseHostWorkStep),
  /** A host's console proxy presents a token, at each connection (the name dates from one-time tokens). */
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
