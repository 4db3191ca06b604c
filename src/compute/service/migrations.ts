// Moving an instance between hosts, after Nova's conductor and compute managers: each step runs on
// one host and its result, reported to the conductor, casts the next step.
//   live:  prepare at the destination → migrate at the source → finish at the destination, then
//          the instance is the destination's (MIGRATING, then ACTIVE or PAUSED as it was).
//   cold:  prepare at the destination → send the disks from the source (shut down) → finish at the
//          destination (booted if it was active) → VERIFY_RESIZE on the destination; a confirm
//          removes the source's copy, a revert the destination's and starts the source's again.
// A step that fails before the instance is the destination's leaves it where it was, with the
// fault, and removes what the destination had prepared. Every step is an event of the action.
import type { DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import { InvalidState } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import { releaseAllocations } from '../store/claims.ts';
import { POWER_STATE_CODES, type InstanceAction } from '../states.ts';
import { outcomeOf, reportedPower } from './host-results.ts';
import {
  isLiveMigrationOp,
  type HostOp,
  type HostWork,
  type HostWorkResult,
  type MigrationOp,
} from '../agent/protocol.ts';
import type { Instance, Migration } from '../model.ts';

/** What the lifecycle lends the migrations: its way to change state, record events and reach hosts. */
export interface MigrationDeps {
  readonly db: DbHandle;
  readonly log: Logger;
  settle(
    id: string,
    action: InstanceAction,
    fields: instances.InstanceFields,
  ): Promise<Instance | undefined>;
  event(
    actionId: string | null,
    op: HostOp,
    host: string | null,
    outcome?: { ok: boolean; message?: string },
  ): Promise<void>;
  fault(message: string, details?: string): string;
  /** Records the start of the step's event and casts it to `host`. */
  castTo(host: string, i: Instance, work: Omit<HostWork, 'uuid'>): Promise<void>;
  wire(i: Instance): Promise<NonNullable<HostWork['instance']>>;
}

export function createMigrations(d: MigrationDeps) {
  const { db, log } = d;
  const abortOp = (m: Migration) =>
    m.kind === 'live-migration' ? 'live_migration_abort' : 'cold_migration_abort';

  /**
   * A migration that failed before the destination had the instance: back where it was, the
   * destination's claim given back, and (`abort`) what the destination prepared removed.
   */
  async function failed(
    r: HostWorkResult,
    i: Instance,
    m: Migration,
    why: string,
    opts: { abort: boolean },
  ): Promise<void> {
    if (opts.abort) await d.castTo(m.destHost, i, { op: abortOp(m), action_id: r.action_id });
    const kind = m.kind === 'live-migration' ? 'Live migration' : 'Migration';
    const done = await d.settle(i.id, 'taskFailed', {
      migration: null,
      fault: d.fault(
        `${kind} of instance ${i.id} failed: ${why}`,
        `from ${m.sourceHost} to ${m.destHost}`,
      ),
    });
    if (done) await releaseAllocations(db, i.id, m.destHost);
  }

  async function onLive(r: HostWorkResult, i: Instance, m: Migration): Promise<void> {
    switch (r.op) {
      case 'live_migration_prepare':
        if (!r.ok || !r.target) {
          await failed(r, i, m, r.message ?? 'the destination answered no target', {
            abort: false,
          });
          return;
        }
        await d.castTo(m.sourceHost, i, {
          op: 'live_migration',
          action_id: r.action_id,
          target: r.target,
        });
        return;
      case 'live_migration':
        if (!r.ok) {
          await failed(r, i, m, r.message ?? 'unknown error', { abort: true });
          return;
        }
        await d.castTo(m.destHost, i, { op: 'live_migration_finish', action_id: r.action_id });
        return;
      case 'live_migration_finish': {
        // The source has let go of the guest by now: the instance is the destination's, working or not.
        const fields = { host: m.destHost, migration: null, ...reportedPower(r) };
        const done = r.ok
          ? await d.settle(i.id, 'migrated', fields)
          : await d.settle(i.id, 'taskErrored', {
              ...fields,
              fault: d.fault(
                `Live migration of instance ${i.id} failed at the end: ${r.message ?? 'unknown error'}`,
                `host ${m.destHost}`,
              ),
            });
        if (done) await releaseAllocations(db, i.id, m.sourceHost);
      }
    }
  }

  async function onCold(r: HostWorkResult, i: Instance, m: Migration): Promise<void> {
    const powerOn = m.powerOn ?? true;
    switch (r.op) {
      case 'cold_migration_prepare': {
        if (!r.ok || !r.target) {
          await failed(r, i, m, r.message ?? 'the destination answered no target', {
            abort: false,
          });
          return;
        }
        const sending = await d.settle(i.id, 'resizeMigrating', { progress: 20 });
        if (sending)
          await d.castTo(m.sourceHost, sending, {
            op: 'cold_migration',
            action_id: r.action_id,
            target: r.target,
            timeout_s: 60,
          });
        return;
      }
      case 'cold_migration':
        if (!r.ok) {
          await failed(r, i, m, r.message ?? 'unknown error', { abort: true });
          return;
        }
        // The disks are there (Nova's resize_migrated); the destination finishes it (resize_finish).
        if (
          (await d.settle(i.id, 'resizeMigrated', {
            power_state: POWER_STATE_CODES.shutdown,
            progress: 60,
          })) &&
          (await d.settle(i.id, 'resizeFinish', { progress: 70 }))
        ) {
          await d.castTo(m.destHost, i, {
            op: 'cold_migration_finish',
            action_id: r.action_id,
            power_on: powerOn,
          });
        }
        return;
      case 'cold_migration_finish':
        if (!r.ok) {
          // The source still has the disks: the instance goes back to them, started again if it ran.
          await d.castTo(m.sourceHost, i, {
            op: 'cold_migration_revert_finish',
            action_id: r.action_id,
            power_on: powerOn,
          });
          await failed(r, i, m, r.message ?? 'unknown error', { abort: true });
          return;
        }
        await d.settle(i.id, 'resized', { host: m.destHost, ...reportedPower(r) });
        return;
      case 'cold_migration_confirm': {
        if (!r.ok) {
          await d.settle(i.id, 'taskFailed', {
            fault: d.fault(
              `Confirming the migration of instance ${i.id} failed: ${r.message ?? 'unknown error'}`,
              `host ${m.sourceHost}`,
            ),
          });
          return;
        }
        // Nova's confirm: STOPPED if the guest is off, else ACTIVE.
        const on = i.powerState === POWER_STATE_CODES.running;
        if (
          await d.settle(i.id, on ? 'resizeConfirmed' : 'resizeConfirmedStopped', {
            migration: null,
          })
        )
          await releaseAllocations(db, i.id, m.sourceHost);
        return;
      }
      case 'cold_migration_revert':
        if (!r.ok) {
          await d.settle(i.id, 'taskFailed', {
            fault: d.fault(
              `Reverting the migration of instance ${i.id} failed: ${r.message ?? 'unknown error'}`,
              `host ${m.destHost}`,
            ),
          });
          return;
        }
        await d.castTo(m.sourceHost, i, {
          op: 'cold_migration_revert_finish',
          action_id: r.action_id,
          power_on: powerOn,
        });
        return;
      case 'cold_migration_revert_finish': {
        if (i.taskState !== 'resize_reverting') return;
        const fields = { host: m.sourceHost, migration: null, ...reportedPower(r) };
        const done = r.ok
          ? await d.settle(i.id, powerOn ? 'resizeReverted' : 'resizeRevertedStopped', fields)
          : await d.settle(i.id, 'taskErrored', {
              ...fields,
              fault: d.fault(
                `Starting instance ${i.id} again on its first host failed: ${r.message ?? 'unknown error'}`,
                `host ${m.sourceHost}`,
              ),
            });
        if (done) await releaseAllocations(db, i.id, m.destHost);
      }
    }
  }

  return {
    /** Starts a migration recorded on the instance (its task set, its migration chosen and claimed): the destination prepares. */
    async start(i: Instance, actionId: string, block: boolean | 'auto' = 'auto'): Promise<void> {
      const m = i.migration;
      if (!m || (m.kind !== 'live-migration' && m.kind !== 'migration'))
        throw new InvalidState(
          `Instance ${i.id} has no migration to start.`,
          'instance_not_migrating',
        );
      const op = m.kind === 'live-migration' ? 'live_migration_prepare' : 'cold_migration_prepare';
      await d.castTo(m.destHost, i, {
        op,
        action_id: actionId,
        block_migration: block,
        instance: await d.wire(i),
      });
    },

    /** A cold migration's confirm (the source's copy goes; `host` another one, for a delete) or revert (the destination's goes first). */
    async conclude(
      i: Instance,
      actionId: string | null,
      how: 'confirm' | 'revert',
      host?: string,
    ): Promise<void> {
      const m = i.migration!;
      if (how === 'confirm')
        await d.castTo(host ?? m.sourceHost, i, {
          op: 'cold_migration_confirm',
          action_id: actionId,
        });
      else await d.castTo(m.destHost, i, { op: 'cold_migration_revert', action_id: actionId });
    },

    /** A step's result. */
    async onResult(r: HostWorkResult & { op: MigrationOp }, i: Instance): Promise<void> {
      await d.event(r.action_id, r.op, r.host, outcomeOf(r));
      if (r.op === 'live_migration_abort' || r.op === 'cold_migration_abort') return;
      const m = i.migration;
      const live = isLiveMigrationOp(r.op);
      const expected = live
        ? i.taskState === 'migrating' && m?.kind === 'live-migration'
        : m?.kind === 'migration';
      if (!m || !expected) {
        // Taken over meanwhile (an admin's reset, a delete): whatever the destination holds goes.
        log.warn(
          { instance: i.id, op: r.op },
          'migration step for an instance no longer migrating',
        );
        const dest = r.op.endsWith('_prepare') ? r.host : m?.destHost;
        if (
          r.ok &&
          dest !== undefined &&
          (r.op.endsWith('_prepare') || r.op === 'live_migration')
        ) {
          await d.castTo(dest, i, {
            op: live ? 'live_migration_abort' : 'cold_migration_abort',
            action_id: null,
          });
        }
        return;
      }
      await (live ? onLive(r, i, m) : onCold(r, i, m));
    },

    /** Whether a guest on `host` the cloud places elsewhere is one end of a migration (reconcile leaves it alone). */
    isMigrating(i: Instance | undefined, host: string): boolean {
      const m = i?.migration;
      return (
        !!m &&
        (m.kind === 'live-migration' || m.kind === 'migration') &&
        (m.sourceHost === host || m.destHost === host)
      );
    },
  };
}

export type Migrations = ReturnType<typeof createMigrations>;
