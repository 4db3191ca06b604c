// What the lifecycle, its recovery sweeps, the host sync and the migrations share: reaching a
// host's agent on the bus, recording each piece of host work as an event of its instance action,
// state changes that lose quietly to a delete, faults as Nova records them, the end of a delete,
// and the log lines of an action's start and end with its instance and request ids.
// Holds no policy of its own: each caller decides what to do with these steps.
import { hidePaths } from '../../platform/hide-paths.ts';
import type { DbHandle } from '../../platform/db/database.ts';
import type { Bus } from '../../platform/bus/bus.ts';
import type { Logger } from '../../platform/log.ts';
import { InvalidState, Unavailable } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as actions from '../store/instance-actions.ts';
import { releaseAllocations } from '../store/claims.ts';
import { deleteInstanceTokens } from '../store/console-tokens.ts';
import {
  actionName,
  agentClient,
  type HostOp,
  type HostWork,
  type HostWorkResult,
  type WireInstance,
} from '../agent/protocol.ts';
import { POWER_STATE_CODES, type InstanceAction } from '../states.ts';
import type { Instance, InstanceFault } from '../model.ts';
import type { ImagePort } from './ports.ts';
import { createInstanceNotifications } from './notifications.ts';

/** Nova's event names for host work (os-instance-actions events). */
export const EVENT_NAMES: Readonly<Record<HostOp, string>> = {
  build: 'compute__do_build_and_run_instance',
  destroy: 'compute_terminate_instance',
  stop: 'compute_stop_instance',
  start: 'compute_start_instance',
  reboot: 'compute_reboot_instance',
  reboot_hard: 'compute_reboot_instance',
  pause: 'compute_pause_instance',
  unpause: 'compute_unpause_instance',
  suspend: 'compute_suspend_instance',
  resume: 'compute_resume_instance',
  rescue: 'compute_rescue_instance',
  unrescue: 'compute_unrescue_instance',
  rebuild: 'compute_rebuild_instance',
  resize: 'compute_resize_instance',
  confirm_resize: 'compute_confirm_resize',
  revert_resize: 'compute_revert_resize_instance',
  snapshot: 'compute_snapshot_instance',
  shelve: 'compute_shelve_instance',
  shelve_offload: 'compute_shelve_offload_instance',
  unshelve: 'compute_unshelve_instance',
  live_migration_prepare: 'compute_pre_live_migration',
  live_migration: 'compute_live_migration',
  live_migration_finish: 'compute_post_live_migration_at_destination',
  live_migration_abort: 'compute_rollback_live_migration_at_destination',
  cold_migration_prepare: 'compute_prep_resize',
  cold_migration: 'compute_resize_instance',
  cold_migration_finish: 'compute_finish_resize',
  cold_migration_abort: 'compute_rollback_resize',
  cold_migration_confirm: 'compute_confirm_resize',
  cold_migration_revert: 'compute_revert_resize',
  cold_migration_revert_finish: 'compute_finish_revert_resize',
};

export interface LifecycleBaseDeps {
  readonly db: DbHandle;
  readonly log: Logger;
  readonly now: () => number;
  readonly images: ImagePort;
}

export function createLifecycleBase(deps: LifecycleBaseDeps) {
  const { db, log, now } = deps;
  let bus: Bus | undefined;
  const notifications = createInstanceNotifications({ bus: () => bus, log, now });

  function requireBus(): Bus {
    if (!bus)
      throw new Unavailable(
        'The compute service is not connected to the message bus; start it with `nubes up` or `nubes serve api`.',
        'compute_no_bus',
      );
    return bus;
  }

  /** What a host's driver needs to build the instance. */
  async function wireInstance(i: Instance): Promise<WireInstance> {
    // A shelved instance comes back from the image of its own disk.
    const imageId = i.shelvedImageId ?? i.imageId;
    const img = imageId === null ? undefined : await deps.images.describe(imageId);
    if (imageId !== null && !img)
      throw new InvalidState(
        `Image ${imageId} of instance ${i.id} no longer exists.`,
        'image_gone',
      );
    return {
      uuid: i.id,
      name: i.name,
      hostname: i.hostname,
      flavor: i.flavor,
      image: {
        id: imageId ?? '',
        disk_format: img?.diskFormat ?? 'raw',
        checksum: img?.checksum ?? null,
        properties: img?.properties ?? {},
      },
      metadata: {
        public_keys: i.keyName !== null && i.keyData !== null ? { [i.keyName]: i.keyData } : {},
        user_data: i.userData,
        meta: i.metadata,
        config_drive: i.configDrive,
      },
    };
  }

  /**
   * A fault as Nova records it: the message users see (no host names, no host paths: what an agent
   * said may name its files), the details admins see (with the agent's words whole, for a 500).
   */
  const fault = (message: string, details = '', code = 500): string => {
    const shown = hidePaths(message);
    const full =
      shown !== message && code === 500 ? [details, message].filter(Boolean).join('; ') : details;
    return JSON.stringify({
      code,
      message: shown,
      details: full,
      created: now(),
    } satisfies InstanceFault);
  };

  async function event(
    actionId: string | null,
    op: HostOp,
    host: string | null,
    outcome?: { ok: boolean; message?: string },
  ): Promise<void> {
    if (actionId === null) return;
    await actions.recordEvent(db, actionId, {
      event: EVENT_NAMES[op],
      host,
      ...(outcome
        ? {
            finish: now(),
            result: outcome.ok ? 'Success' : 'Error',
            ...(outcome.message ? { traceback: outcome.message } : {}),
          }
        : { start: now() }),
    });
  }

  // The request of each recent action (a migration casts several steps for one): read once.
  const requests = new Map<string, { requestId: string; startTime: number }>();
  async function requestOf(
    actionId: string | null,
  ): Promise<{ requestId: string; startTime: number } | undefined> {
    if (actionId === null) return undefined;
    const known = requests.get(actionId);
    if (known) return known;
    const found = await actions.actionRequest(db, actionId);
    if (found) {
      if (requests.size >= 1000) requests.delete(requests.keys().next().value!);
      requests.set(actionId, found);
    }
    return found;
  }

  /** Casts work on the instance to `host`, recording and announcing its start (a delete's start is
   * announced by the delete itself, which may not reach a host). */
  async function castTo(host: string, i: Instance, work: Omit<HostWork, 'uuid'>): Promise<void> {
    await event(work.action_id, work.op, host);
    if (work.op !== 'destroy') await notifications.started(work.op, i, host);
    const requestId = work.request_id ?? (await requestOf(work.action_id))?.requestId;
    log.info(
      { instance_id: i.id, request_id: requestId ?? null, op: work.op, host },
      `instance.${actionName(work.op)} cast to host`,
    );
    await agentClient(requireBus(), host).cast('instance.work', {
      ...work,
      ...(requestId !== undefined ? { request_id: requestId } : {}),
      uuid: i.id,
    });
  }

  /** The log line of an action the api accepted: its task is set, its work on its way. */
  function logStart(i: Instance, action: string, requestId: string): void {
    log.info(
      { instance_id: i.id, request_id: requestId, task_state: i.taskState, host: i.host },
      `instance.${action} start`,
    );
  }

  /** The log line of host work's end, with how long its action has taken so far. */
  async function logEnd(r: HostWorkResult, after: Instance | undefined): Promise<void> {
    const req = await requestOf(r.action_id);
    log.info(
      {
        instance_id: r.uuid,
        request_id: r.request_id ?? req?.requestId ?? null,
        op: r.op,
        host: r.host,
        ok: r.ok,
        ...(r.ok ? {} : { err: r.message ?? 'unknown error' }),
        vm_state: after?.vmState ?? 'deleted',
        task_state: after?.taskState ?? null,
        ms: req ? now() - req.startTime : null,
      },
      `instance.${actionName(r.op)} end`,
    );
  }

  /** Casts work to the instance's host and records the start of its event. */
  async function cast(i: Instance, work: Omit<HostWork, 'uuid'>): Promise<void> {
    if (i.host === null)
      throw new InvalidState(`Instance ${i.id} has no host yet.`, 'instance_not_placed');
    await castTo(i.host, i, work);
  }

  /** A transition whose loser is an instance deleted meanwhile: nothing more to do then. */
  async function settle(
    id: string,
    action: InstanceAction,
    fields: instances.InstanceFields,
    on: DbHandle = db,
  ): Promise<Instance | undefined> {
    try {
      return await instances.transition(on, id, action, fields, now());
    } catch (e) {
      if (e instanceof InvalidState) {
        log.info({ instance: id, action, err: e.message }, 'instance moved on meanwhile');
        return undefined;
      }
      throw e;
    }
  }

  /** Whether the instance is gone from the database (deleted), as opposed to moved on to another state. */
  const isGone = async (id: string) => (await instances.getInstance(db, id)) === undefined;

  async function removeShelvedImage(id: string): Promise<void> {
    await deps.images
      .removeOwn(id)
      .catch((err: unknown) => log.warn({ image: id, err }, 'could not delete a shelved image'));
  }

  /** A guest a host made for an instance deleted meanwhile: destroyed on that host, nothing recorded. */
  async function removeOrphan(r: { readonly uuid: string; readonly host: string }): Promise<void> {
    log.warn(
      { instance: r.uuid, host: r.host },
      'a guest was built for a deleted instance; destroying it',
    );
    await agentClient(requireBus(), r.host).cast('instance.work', {
      op: 'destroy',
      uuid: r.uuid,
      action_id: null,
    });
  }

  async function finishDelete(id: string): Promise<void> {
    const t = now();
    // An admin's reset may have moved it out of 'deleting': then it lives on, with its claims.
    const done = await settle(id, 'deleted', {
      deleted_at: t,
      terminated_at: t,
      power_state: POWER_STATE_CODES.nostate,
    });
    if (done || (await isGone(id))) {
      await releaseAllocations(db, id);
      await deleteInstanceTokens(db, id);
    }
    if (done) await notifications.emit('instance.delete.end', done, done.host);
    // A server deleted while shelved takes its shelved disk image with it, as in Nova.
    if (done?.shelvedImageId) await removeShelvedImage(done.shelvedImageId);
  }

  return {
    attach(b: Bus): void {
      bus = b;
    },
    requireBus,
    notifications,
    wireInstance,
    fault,
    event,
    castTo,
    cast,
    requestOf,
    logStart,
    logEnd,
    settle,
    isGone,
    removeShelvedImage,
    removeOrphan,
    finishDelete,
  };
}

export type LifecycleBase = ReturnType<typeof createLifecycleBase>;
