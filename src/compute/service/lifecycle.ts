// The instance lifecycle between the api and the hosts: scheduling a build and casting it to the
// chosen host's agent, and everything agents report back through the conductor (a build done or
// failed and retried elsewhere, an action done, an instance destroyed, a restarted host's
// inventory of instances). Every state change goes through states.ts; every piece of host work
// is recorded as an event of its instance action.
import type { Kysely } from 'kysely';
import type { DB } from '../../platform/db/schema.ts';
import type { Bus } from '../../platform/bus/bus.ts';
import type { Logger } from '../../platform/log.ts';
import { InvalidState, Unavailable } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as actions from '../store/instance-actions.ts';
import { hasAllocation, releaseAllocations, setAllocation } from '../store/claims.ts';
import { deleteInstanceTokens } from '../store/console-tokens.ts';
import { flavorDiskGb } from '../scheduler/host-selection.ts';
import { noteBuildResult } from '../store/host-states.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { agentTarget } from '../agent/host-agent.ts';
import {
  isMigrationOp,
  toJson,
  type HostOp,
  type HostWork,
  type HostWorkResult,
  type MigrationOp,
  type PowerReport,
  type WireInstance,
} from '../agent/protocol.ts';
import { createMigrations } from './migrations.ts';
import { outcomeOf, powerCode, reportedPower } from './host-results.ts';
import { POWER_STATE_CODES, TASK_STATES, type InstanceAction } from '../states.ts';
import { newRequestId } from '../../platform/ids.ts';
import type { Instance, InstanceFault } from '../model.ts';
import type { ImagePort } from './ports.ts';

/** Nova's max_attempts: a build is tried on this many hosts before it ends in ERROR. */
export const MAX_BUILD_ATTEMPTS = 3;

/** The transition that completes each piece of host work (a migration's steps are chained in migrations.ts). */
const COMPLETES: Readonly<Record<Exclude<HostOp, MigrationOp>, InstanceAction>> = {
  build: 'spawned',
  destroy: 'deleted',
  stop: 'stopped',
  start: 'started',
  reboot: 'rebooted',
  reboot_hard: 'rebooted',
  pause: 'paused',
  unpause: 'unpaused',
  suspend: 'suspended',
  resume: 'resumed',
  rescue: 'rescued',
  unrescue: 'unrescued',
  rebuild: 'rebuilt',
  resize: 'resized',
  confirm_resize: 'resizeConfirmed',
  revert_resize: 'resizeReverted',
  snapshot: 'snapshotDone',
  shelve: 'shelveOffloaded',
  shelve_offload: 'shelveOffloaded',
  unshelve: 'unshelved',
};

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

export interface LifecycleDeps {
  readonly db: Kysely<DB>;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly now?: () => number;
  readonly images: ImagePort;
  /** Whether the host's agent is heard from (a down host's instances are deleted locally, as Nova does). */
  readonly hostIsUp: (host: string) => Promise<boolean>;
}

export function createLifecycle(deps: LifecycleDeps) {
  const { db, scheduler, log } = deps;
  const now = deps.now ?? Date.now;
  let bus: Bus | undefined;

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

  /** A fault as Nova records it: the message users see (no host names), the details admins see. */
  const fault = (message: string, details = '', code = 500): string =>
    JSON.stringify({ code, message, details, created: now() } satisfies InstanceFault);

  function requireBus(): Bus {
    if (!bus)
      throw new Unavailable(
        'The compute service is not connected to the message bus; start it with `nubes up` or `nubes serve api`.',
        'compute_no_bus',
      );
    return bus;
  }

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

  /** Casts work on the instance to `host` and records the start of its event. */
  async function castTo(host: string, i: Instance, work: Omit<HostWork, 'uuid'>): Promise<void> {
    await event(work.action_id, work.op, host);
    await requireBus().cast(agentTarget(host), 'instance.work', toJson({ ...work, uuid: i.id }));
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
  ): Promise<Instance | undefined> {
    try {
      return await instances.transition(db, id, action, fields, now());
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

  async function buildFailed(
    i: Instance,
    actionId: string | null,
    message: string,
    details = '',
  ): Promise<void> {
    // A build that lost to a delete leaves its claim to the delete, which releases it.
    if (
      (await settle(i.id, 'buildFailed', {
        fault: fault(message, details),
        power_state: POWER_STATE_CODES.nostate,
      })) ||
      (await isGone(i.id))
    ) {
      await releaseAllocations(db, i.id);
    }
    await event(actionId, 'build', i.host, { ok: false, message: details || message });
  }

  /** Places each instance (claims included) and casts its build; failures end in ERROR with a fault. */
  async function schedule(
    list: readonly Instance[],
    actionIds: ReadonlyMap<string, string>,
  ): Promise<void> {
    const placements = await scheduler.place(list);
    await Promise.all(
      list.map(async (i, n) => {
        const p = placements[n]!;
        const actionId = actionIds.get(i.id) ?? null;
        if (!p.ok) {
          await buildFailed(i, actionId, p.reason);
          return;
        }
        const placed = await settle(i.id, 'schedule', {
          host: p.host,
          availability_zone: i.availabilityZone ?? p.availabilityZone,
        });
        // Deleted (or taken over) while it was being scheduled: give back this claim, and only this one.
        if (!placed) {
          await releaseAllocations(db, i.id, p.host);
          return;
        }
        // The network and volume services plug in here (ports, boot volumes) before the spawn.
        const spawning = await settle(i.id, 'spawn', {});
        if (!spawning) return;
        try {
          await cast(spawning, {
            op: 'build',
            action_id: actionId,
            instance: await wireInstance(spawning),
          });
        } catch (e) {
          await buildFailed(
            spawning,
            actionId,
            `Build of instance ${i.id} could not be started: ${(e as Error).message}`,
            `host ${p.host}`,
          );
        }
      }),
    );
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
    // A server deleted while shelved takes its shelved disk image with it, as in Nova.
    if (done?.shelvedImageId) await removeShelvedImage(done.shelvedImageId);
  }

  const flavorFields = (f: Instance['flavor']): instances.InstanceFields => ({
    flavor: JSON.stringify(f),
    vcpus: f.vcpus,
    memory_mb: f.memoryMb,
  });
  const allocationOf = (i: Instance, host: string, f: Instance['flavor']) => ({
    instanceId: i.id,
    host,
    vcpus: f.vcpus,
    memoryMb: f.memoryMb,
    diskGb: flavorDiskGb(f),
  });

  /** What completing some work changes besides the state (flavors of a resize, the host of a
   * shelve), and the claims to adjust once that state change has won. */
  function completion(
    i: Instance,
    r: HostWorkResult,
  ): { fields: instances.InstanceFields; claims: () => Promise<void> } {
    const m = i.migration;
    const none = async () => {};
    // The shelved disk's image has done its job (unshelved) or is half made (a shelve that failed).
    const dropShelvedImage = async () => {
      if (i.shelvedImageId) await removeShelvedImage(i.shelvedImageId);
    };
    if (r.ok) {
      switch (r.op) {
        case 'resize':
          return { fields: m ? flavorFields(m.newFlavor) : {}, claims: none };
        case 'confirm_resize':
          return {
            fields: { migration: null },
            claims: async () => {
              if (m) await setAllocation(db, allocationOf(i, m.destHost, m.newFlavor));
            },
          };
        case 'revert_resize':
          return {
            fields: { ...(m ? flavorFields(m.oldFlavor) : {}), migration: null },
            claims: async () => {
              if (m) await setAllocation(db, allocationOf(i, m.sourceHost, m.oldFlavor));
            },
          };
        case 'shelve':
        case 'shelve_offload':
          return {
            fields: { host: null, power_state: POWER_STATE_CODES.nostate },
            claims: () => releaseAllocations(db, i.id),
          };
        // Booted from its shelved image (Nova deletes it too).
        case 'unshelve':
          return { fields: { shelved_image_id: null }, claims: dropShelvedImage };
        default:
          return { fields: {}, claims: none };
      }
    }
    switch (r.op) {
      // The instance keeps its old flavor; the claim for the new one goes.
      case 'resize':
        return {
          fields: { migration: null },
          claims: async () => {
            if (m) await setAllocation(db, allocationOf(i, m.sourceHost, m.oldFlavor));
          },
        };
      case 'unshelve':
        return { fields: { host: null }, claims: () => releaseAllocations(db, i.id) };
      // Still on its host, as it was.
      case 'shelve':
        return { fields: { shelved_image_id: null }, claims: dropShelvedImage };
      default:
        return { fields: {}, claims: none };
    }
  }

  async function removeShelvedImage(id: string): Promise<void> {
    await deps.images
      .removeOwn(id)
      .catch((err: unknown) => log.warn({ image: id, err }, 'could not delete a shelved image'));
  }

  /** A guest a host made for an instance deleted meanwhile: destroyed on that host, nothing recorded. */
  async function removeOrphan(r: HostWorkResult): Promise<void> {
    log.warn(
      { instance: r.uuid, host: r.host },
      'a guest was built for a deleted instance; destroying it',
    );
    await requireBus().cast(
      agentTarget(r.host),
      'instance.work',
      toJson({ op: 'destroy', uuid: r.uuid, action_id: null }),
    );
  }

  /** Deletes an instance already in 'deleting': on its host when it has a live one, else here. */
  async function destroy(i: Instance, actionId: string | null): Promise<void> {
    // A cold migration's other copy (the source's kept for a revert, or one being prepared) goes too.
    const m = i.migration;
    const other =
      m?.kind === 'migration' ? (i.host === m.sourceHost ? m.destHost : m.sourceHost) : null;
    if (other !== null && other !== i.host && (await deps.hostIsUp(other)))
      await migrations.conclude(i, null, 'confirm', other);
    if (i.host === null || !(await deps.hostIsUp(i.host))) {
      await finishDelete(i.id);
      return;
    }
    await cast(i, { op: 'destroy', action_id: actionId });
  }

  async function onBuildResult(r: HostWorkResult, i: Instance): Promise<void> {
    if (r.ok) {
      // Deleted while it was being built (the delete may even have reached the host first): the
      // guest that just came up belongs to nobody, so it goes.
      if (
        !(await settle(i.id, 'spawned', {
          power_state: powerCode(r.power_state),
          launched_at: now(),
        }))
      ) {
        const current = await instances.getInstance(db, i.id);
        if (!current || current.taskState === 'deleting') await removeOrphan(r);
      }
      await noteBuildResult(db, r.host, true);
      await event(r.action_id, 'build', r.host, { ok: true });
      return;
    }
    await noteBuildResult(db, r.host, false);
    await releaseAllocations(db, i.id, r.host);
    const tried = [...i.request.tried, r.host];
    if (!r.retryable || tried.length >= MAX_BUILD_ATTEMPTS) {
      await buildFailed(
        i,
        r.action_id,
        `Build of instance ${i.id} failed: ${r.message ?? 'unknown error'}`,
        `tried hosts: ${tried.join(', ')}`,
      );
      return;
    }
    log.warn({ instance: i.id, host: r.host, err: r.message }, 'build failed; rescheduling');
    await event(r.action_id, 'build', r.host, outcomeOf(r));
    const again = await settle(i.id, 'reschedule', {
      host: null,
      request_spec: JSON.stringify({ ...i.request, tried }),
    });
    if (again) await schedule([again], new Map(r.action_id ? [[i.id, r.action_id]] : []));
  }

  const migrations = createMigrations({
    db,
    log,
    settle,
    fault,
    castTo,
    wire: wireInstance,
    event,
  });

  return {
    attach(b: Bus): void {
      bus = b;
    },

    /**
     * Builds whose api process stopped before it placed them (still 'scheduling' after `stalledMs`):
     * one replica takes each over and schedules it. Returns how many it took.
     */
    async sweepStalled(stalledMs: number): Promise<number> {
      const stalled = await instances.stalledInstances(db, ['scheduling'], now() - stalledMs, 100);
      const mine: Instance[] = [];
      for (const i of stalled) {
        // A claim means some scheduler is placing it right now (a long queue), not that it was lost.
        if (await hasAllocation(db, i.id)) continue;
        if (await instances.takeOver(db, i.id, i.updatedAt, now())) mine.push(i);
      }
      if (mine.length > 0) {
        log.warn({ count: mine.length }, 'scheduling builds left behind by a stopped api process');
        await schedule(mine, new Map());
      }
      return mine.length;
    },

    /**
     * Work whose result never came (an agent that died mid-way, a result lost): after `stalledMs` a
     * delete is sent again (or completed here if the host is down), a build fails, and any other
     * task is cleared with a fault, so no server stays in a task nobody is doing.
     */
    async sweepAbandoned(stalledMs: number): Promise<number> {
      const tasks = TASK_STATES.filter((t) => t !== 'scheduling');
      const stalled = await instances.stalledInstances(db, tasks, now() - stalledMs, 100);
      let n = 0;
      for (const i of stalled) {
        if (!(await instances.takeOver(db, i.id, i.updatedAt, now()))) continue;
        n++;
        log.warn(
          { instance: i.id, task: i.taskState, host: i.host },
          'no result for host work; recovering',
        );
        if (i.taskState === 'deleting') await destroy(i, null);
        else if (i.vmState === 'building')
          await buildFailed(
            i,
            null,
            `Build of instance ${i.id} timed out: its host never answered.`,
            `host ${i.host ?? '(none)'}`,
          );
        else if (
          i.migration?.kind === 'live-migration' ||
          (i.migration?.kind === 'migration' && i.vmState !== 'resized')
        ) {
          // Where the guest is now is unknown: ERROR, for an admin to look (Nova leaves such a migration in error too).
          const done = await settle(i.id, 'taskErrored', {
            migration: null,
            fault: fault(
              `Migration of instance ${i.id} timed out: a host never answered.`,
              `from ${i.migration.sourceHost} to ${i.migration.destHost}`,
            ),
          });
          if (done) await releaseAllocations(db, i.id, i.migration.destHost);
        } else
          await settle(i.id, 'taskFailed', {
            fault: fault(
              `${i.taskState} of instance ${i.id} timed out: its host never answered.`,
              `host ${i.host ?? '(none)'}`,
            ),
          });
      }
      return n;
    },

    /** Unshelve: a host for an offloaded instance (claim included), then the work cast to it. */
    async placeAndCast(i: Instance, op: 'unshelve', actionId: string): Promise<void> {
      const fresh = { ...i, request: { ...i.request, tried: [] } };
      const [p] = await scheduler.place([fresh]);
      if (!p || !p.ok) {
        await settle(i.id, 'taskFailed', { fault: fault(p?.reason ?? 'No valid host was found.') });
        await event(actionId, op, null, {
          ok: false,
          message: p?.reason ?? 'No valid host was found.',
        });
        return;
      }
      const placed = await instances.updateInstance(db, i.id, { host: p.host }, now());
      if (!placed) {
        await releaseAllocations(db, i.id, p.host);
        return;
      }
      try {
        await cast(placed, { op, action_id: actionId, instance: await wireInstance(placed) });
      } catch (e) {
        // Not sent (its image is gone, the bus is down): the claim goes back and the server stays offloaded.
        await releaseAllocations(db, i.id, p.host);
        await instances.updateInstance(db, i.id, { host: null }, now());
        throw e;
      }
    },
    migrations,
    schedule,
    cast,
    wireInstance,

    destroy,

    /** An agent's report of work done or failed. */
    async onResult(r: HostWorkResult): Promise<void> {
      const i = await instances.getInstance(db, r.uuid);
      if (!i) {
        log.info({ instance: r.uuid, op: r.op }, 'result for an instance already gone');
        if (r.ok && (r.op === 'build' || r.op === 'unshelve' || r.op === 'rebuild'))
          await removeOrphan(r);
        return;
      }
      if (r.op === 'build') {
        await onBuildResult(r, i);
        return;
      }
      if (isMigrationOp(r.op)) {
        await migrations.onResult({ ...r, op: r.op }, i);
        return;
      }
      if (r.op === 'destroy') {
        if (r.ok) await finishDelete(i.id);
        else
          await settle(i.id, 'taskErrored', {
            fault: fault(
              `Deleting instance ${i.id} failed: ${r.message ?? 'unknown error'}`,
              `host ${r.host}`,
            ),
          });
        await event(r.action_id, r.op, r.host, outcomeOf(r));
        return;
      }
      const fields: instances.InstanceFields = reportedPower(r);
      const c = completion(i, r);
      const settled = r.ok
        ? await settle(i.id, COMPLETES[r.op as Exclude<HostOp, MigrationOp>], {
            ...fields,
            ...c.fields,
          })
        : await settle(i.id, 'taskFailed', {
            ...fields,
            ...c.fields,
            fault: fault(
              `${r.op} of instance ${i.id} failed: ${r.message ?? 'unknown error'}`,
              `host ${r.host}`,
            ),
          });
      if (settled) await c.claims();
      await event(r.action_id, r.op, r.host, outcomeOf(r));
    },

    /**
     * An agent's power states (a lifecycle event from its driver, or its periodic sync), after Nova's
     * _sync_power_states: the database is the truth for what a server should be. A guest found off
     * while it should run is recorded stopped (with the fault, if the driver gave one, and a 'stop'
     * action by the cloud); one found running while it should be off is returned to be stopped.
     * Instances with a task under way are left alone: that work reports the power state itself.
     */
    async syncPower(host: string, reports: readonly PowerReport[]): Promise<string[]> {
      const stop: string[] = [];
      const onHost = new Map((await instances.instancesOnHost(db, host)).map((i) => [i.id, i]));
      for (const r of reports) {
        const i = onHost.get(r.uuid);
        if (!i || i.taskState !== null) continue;
        const code = powerCode(r.power_state);
        const off = r.power_state === 'shutdown' || r.power_state === 'crashed';
        if (off && (i.vmState === 'active' || i.vmState === 'paused')) {
          // The stop and its action in one transaction: whoever sees SHUTOFF also finds why.
          const actionId = crypto.randomUUID();
          const done = await db
            .transaction()
            .execute(async (trx) => {
              const t = await instances.transition(
                trx,
                i.id,
                'powerLost',
                {
                  power_state: code,
                  ...(r.fault !== null ? { fault: fault(r.fault, `host ${host}`) } : {}),
                },
                now(),
              );
              if (!t) return false;
              await actions.startActions(trx, [
                {
                  id: actionId,
                  instanceId: i.id,
                  requestId: newRequestId(),
                  action: 'stop',
                  projectId: i.projectId,
                  userId: '',
                  startTime: now(),
                },
              ]);
              await actions.recordEvent(trx, actionId, {
                event: EVENT_NAMES.stop,
                host,
                start: now(),
                finish: now(),
                result: r.fault === null ? 'Success' : 'Error',
                ...(r.fault !== null ? { traceback: r.fault } : {}),
              });
              return true;
            })
            .catch((e: unknown) => {
              if (e instanceof InvalidState) return false;
              throw e;
            });
          if (done)
            log.warn(
              { instance: i.id, host, power: r.power_state, fault: r.fault },
              'instance found off on its host; recorded stopped',
            );
        } else if (
          i.vmState === 'stopped' &&
          (r.power_state === 'running' || r.power_state === 'paused')
        ) {
          stop.push(i.id);
        } else if (code !== i.powerState) {
          await instances.updateInstance(db, i.id, { power_state: code }, now());
        }
      }
      return stop;
    },

    /**
     * A (re)started agent says what its hypervisor has. Instances the cloud placed there but the
     * hypervisor lacks end in ERROR (or finish what they were doing: a delete completes, a build is
     * retried elsewhere); instances the cloud does not know are handed back for destruction, and
     * those it has on another host to be forgotten here.
     */
    async reconcile(
      host: string,
      present: readonly { uuid: string; power_state: HostWorkResult['power_state'] }[],
    ): Promise<{ destroy: string[]; forget: string[] }> {
      const expected = await instances.instancesOnHost(db, host);
      const here = new Map(present.map((p) => [p.uuid, p]));
      for (const i of expected) {
        const found = here.get(i.id);
        if (found) {
          if (powerCode(found.power_state) !== i.powerState)
            await instances.updateInstance(
              db,
              i.id,
              { power_state: powerCode(found.power_state) },
              now(),
            );
          continue;
        }
        if (i.taskState === 'deleting') await finishDelete(i.id);
        // Gone from its source at the end of a live migration: the destination's finish says where it is.
        else if (i.taskState === 'migrating' && migrations.isMigrating(i, host)) continue;
        else if (i.vmState === 'building')
          await onBuildResult(
            {
              op: 'build',
              uuid: i.id,
              host,
              action_id: null,
              ok: false,
              power_state: null,
              retryable: true,
              message: 'the host restarted during the build',
            },
            i,
          );
        else if (i.vmState !== 'shelved_offloaded')
          await settle(i.id, 'vanished', {
            power_state: POWER_STATE_CODES.nostate,
            fault: fault(
              `Instance ${i.id} is no longer on its host (the host restarted without it).`,
              `host ${host}`,
            ),
          });
      }
      const known = new Set(expected.map((i) => i.id));
      const out = { destroy: [] as string[], forget: [] as string[] };
      for (const p of present.filter((x) => !known.has(x.uuid))) {
        const i = await instances.getInstance(db, p.uuid);
        // One end of a migration (arriving here, or the source's copy kept for a revert): not an orphan.
        if (migrations.isMigrating(i, host)) continue;
        // Deleted: all of it goes. Living on another host: only what this host has (its disks may be shared).
        (i ? out.forget : out.destroy).push(p.uuid);
      }
      return out;
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
