// The instance lifecycle between the api and the hosts: scheduling a build and casting it to the
// chosen host's agent, and the results agents report back through the conductor (a build done or
// failed and retried elsewhere, an action done, an instance destroyed). Every state change goes
// through states.ts; every piece of host work is recorded as an event of its instance action.
// The recovery sweeps (recovery.ts) and the host sync (host-sync.ts) are part of its interface.
import { inTransaction, type DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import * as instances from '../store/instances.ts';
import { releaseAllocations } from '../store/claims.ts';
import { noteBuildResult } from '../store/host-states.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import {
  isMigrationOp,
  type HostOp,
  type HostWorkResult,
  type HostWorkStep,
  type MigrationOp,
} from '../agent/protocol.ts';
import { createMigrations } from './migrations.ts';
import { outcomeOf, powerCode, reportedPower } from './host-results.ts';
import { createLifecycleBase } from './lifecycle-base.ts';
import { COMPLETES, completion } from './completions.ts';
import { createRecovery } from './recovery.ts';
import { createHostSync } from './host-sync.ts';
import { createWorkSteps } from './work-steps.ts';
import { POWER_STATE_CODES } from '../states.ts';
import type { Instance } from '../model.ts';
import type { ImagePort } from './ports.ts';

/** Nova's max_attempts: a build is tried on this many hosts before it ends in ERROR. */
export const MAX_BUILD_ATTEMPTS = 3;

export interface LifecycleDeps {
  readonly db: DbHandle;
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
  const base = createLifecycleBase({ db, log, now, images: deps.images });
  const { settle, fault, event, cast, wireInstance, isGone, finishDelete, removeOrphan } = base;
  const { notifications } = base;

  async function buildFailed(
    i: Instance,
    actionId: string | null,
    message: string,
    details = '',
  ): Promise<void> {
    const failed = await settle(i.id, 'buildFailed', {
      fault: fault(message, details),
      power_state: POWER_STATE_CODES.nostate,
    });
    // A build that lost to a delete leaves its claim to the delete, which releases it.
    if (failed || (await isGone(i.id))) await releaseAllocations(db, i.id);
    if (failed) await notifications.emit('instance.create.error', failed, failed.host);
    await event(actionId, 'build', i.host, { ok: false, message: details || message });
  }

  /** Places each instance (claims included) and casts its build; failures end in ERROR with a fault. */
  async function schedule(
    list: readonly Instance[],
    actionIds: ReadonlyMap<string, string>,
    requestId?: string,
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
          progress: 10,
        });
        // Deleted (or taken over) while it was being scheduled: give back this claim, and only this one.
        if (!placed) {
          await releaseAllocations(db, i.id, p.host);
          return;
        }
        // The network and volume services plug in here (ports, boot volumes) before the spawn.
        const spawning = await settle(i.id, 'spawn', { progress: 20 });
        if (!spawning) return;
        try {
          await cast(spawning, {
            op: 'build',
            action_id: actionId,
            ...(requestId !== undefined ? { request_id: requestId } : {}),
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

  /** Deletes an instance already in 'deleting': on its host when it has a live one, else here. */
  async function destroy(i: Instance, actionId: string | null): Promise<void> {
    await notifications.emit('instance.delete.start', i, i.host);
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
      const spawned = await settle(i.id, 'spawned', {
        power_state: powerCode(r.power_state),
        launched_at: now(),
      });
      if (spawned) await notifications.emit('instance.create.end', spawned, r.host);
      else {
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

  /** An agent's report of work done or failed. */
  async function handleResult(r: HostWorkResult): Promise<void> {
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
    const c = completion(base.removeShelvedImage, i, r);
    // The state and the claims change together: nobody sees the new state with the old claims.
    const settled = await inTransaction(db, async (tx) => {
      const done = r.ok
        ? await settle(
            i.id,
            COMPLETES[r.op as Exclude<HostOp, MigrationOp>],
            { ...fields, ...c.fields },
            tx,
          )
        : await settle(
            i.id,
            'taskFailed',
            {
              ...fields,
              ...c.fields,
              fault: fault(
                `${r.op} of instance ${i.id} failed: ${r.message ?? 'unknown error'}`,
                `host ${r.host}`,
              ),
            },
            tx,
          );
      if (done) await c.claims(tx);
      return done;
    });
    if (settled) await c.after?.();
    await event(r.action_id, r.op, r.host, outcomeOf(r));
  }

  const migrations = createMigrations({
    db,
    log,
    settle,
    fault,
    castTo: base.castTo,
    wire: wireInstance,
    event,
  });
  const steps = createWorkSteps({ db, log, now });
  const recovery = createRecovery({ db, log, now, base, schedule, destroy, buildFailed });
  const hostSync = createHostSync({
    db,
    log,
    now,
    base,
    isMigrating: (i, host) => migrations.isMigrating(i, host),
    onBuildResult,
  });

  return {
    attach: base.attach,
    ...recovery,
    ...hostSync,

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

    /** An agent's report of work done or failed, then its .end (or .error) announced. */
    async onResult(r: HostWorkResult): Promise<void> {
      await handleResult(r);
      const after = await instances.getInstance(db, r.uuid);
      await base.logEnd(r, after);
      // Builds and deletes announce their own ends (a build retried elsewhere has not ended).
      if (r.op === 'build' || r.op === 'destroy') return;
      if (after) await notifications.finished(r.op, r.ok, after, r.host);
    },

    /** An agent's step of work under way: finer task states, progress, the events of waits. */
    onStep: (s: HostWorkStep): Promise<void> => steps.onStep(s),

    /** The log line of an action the api accepted (its task set): `instance.<action> start`. */
    noteStart: base.logStart,
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
