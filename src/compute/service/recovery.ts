// The sweeps that every api process runs (the conductor starts them) so that no server stays in a
// task nobody is doing: builds an api process left in 'scheduling' when it stopped, and host work
// whose result never came. Each instance is taken over by one replica before it is touched.
import type { DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import * as instances from '../store/instances.ts';
import { hasAllocation, releaseAllocations } from '../store/claims.ts';
import { TASK_STATES } from '../states.ts';
import type { Instance } from '../model.ts';
import type { LifecycleBase } from './lifecycle-base.ts';

export interface RecoveryDeps {
  readonly db: DbHandle;
  readonly log: Logger;
  readonly now: () => number;
  readonly base: Pick<LifecycleBase, 'settle' | 'fault'>;
  /** The lifecycle's own steps: place and cast builds, delete, fail a build. */
  schedule(list: readonly Instance[], actionIds: ReadonlyMap<string, string>): Promise<void>;
  destroy(i: Instance, actionId: string | null): Promise<void>;
  buildFailed(
    i: Instance,
    actionId: string | null,
    message: string,
    details?: string,
  ): Promise<void>;
}

export function createRecovery(deps: RecoveryDeps) {
  const { db, log, now } = deps;
  const { settle, fault } = deps.base;

  return {
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
        await deps.schedule(mine, new Map());
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
        if (i.taskState === 'deleting') await deps.destroy(i, null);
        else if (i.vmState === 'building')
          await deps.buildFailed(
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
  };
}
