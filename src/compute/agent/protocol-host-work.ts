// The work the cloud sends a host's agent (instance.work) and the results and power reports the
// agent sends back, with their parsers: the ops, the wire shapes of an instance and an image, and
// the migration steps. protocol.ts puts them in its method tables and re-exports them.
import type { JsonValue } from '../../platform/bus/bus.ts';
import { BadRequest } from '../../platform/errors.ts';
import { POWER_STATES, type FlavorSpec, type PowerState } from './virt/driver.ts';

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

/** The action an op is part of, as log lines name it on both ends (`instance.reboot start`),
 * after Nova's notifications (a build is instance.create, a destroy instance.delete). */
export const actionName = (op: HostOp): string =>
  op === 'build' ? 'create' : op === 'destroy' ? 'delete' : op.replace(/_hard$/, '');

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
  /** The request that asked for it (req-<uuid>), for the host's log lines; absent for the cloud's own work. */
  readonly request_id?: string;
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
  /** The work's request id, echoed back for the conductor's log lines. */
  readonly request_id?: string;
  readonly ok: boolean;
  readonly power_state: PowerState | null;
  /** Why it failed, for the instance fault and the action event. */
  readonly message?: string;
  /** A failed build another host might manage. */
  readonly retryable?: boolean;
  /** live_migration_prepare and cold_migration_prepare: where the source is to send the instance. */
  readonly target?: WireMigrationTarget;
}

/**
 * The steps of host work an agent tells the conductor of while the work runs, so that a user sees
 * where it is and why it waits (task_state, progress, the events of its instance action):
 *   queued       the host has the work (it may wait behind other work on the instance)
 *   started      the driver is at work on it
 *   spawning     a rebuild's new guest is being made (the old one is gone)
 *   image_pending_upload, image_uploading   a snapshot's (or shelve's) copy of the disk is made, its bytes go to the image
 *   shutdown_wait    a clean shutdown was asked of the guest, awaited for up to `seconds`
 *   shutdown_done    the guest stopped by itself
 *   shutdown_forced  it did not stop within `seconds` and is forced off
 */
export const WORK_STEPS = [
  'queued',
  'started',
  'spawning',
  'image_pending_upload',
  'image_uploading',
  'shutdown_wait',
  'shutdown_done',
  'shutdown_forced',
] as const;
export type WorkStep = (typeof WORK_STEPS)[number];

export interface HostWorkStep {
  readonly op: HostOp;
  readonly uuid: string;
  readonly host: string;
  readonly action_id: string | null;
  readonly request_id?: string;
  readonly step: WorkStep;
  /** shutdown_*: the clean shutdown's timeout; queued and started: whether other work on the instance was ahead. */
  readonly seconds?: number;
  readonly behind?: boolean;
}

export function parseHostWorkStep(p: JsonValue): HostWorkStep {
  const o = (p ?? {}) as Record<string, unknown>;
  if (typeof o['op'] !== 'string' || !(HOST_OPS as readonly string[]).includes(o['op']))
    throw new BadRequest(`unknown host op ${String(o['op'])}`);
  if (typeof o['step'] !== 'string' || !(WORK_STEPS as readonly string[]).includes(o['step']))
    throw new BadRequest(`unknown work step ${String(o['step'])}`);
  if (typeof o['uuid'] !== 'string' || typeof o['host'] !== 'string')
    throw new BadRequest('malformed work step');
  if (o['seconds'] !== undefined && (typeof o['seconds'] !== 'number' || o['seconds'] < 0))
    throw new BadRequest("a work step's seconds is a number of seconds");
  if (o['behind'] !== undefined && typeof o['behind'] !== 'boolean')
    throw new BadRequest("a work step's behind is true or false");
  return o as unknown as HostWorkStep;
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
