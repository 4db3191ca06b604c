// Keeping the cloud's view of a host in step with what its hypervisor has: the power states an
// agent reports (its driver's events and periodic sync, after Nova's _sync_power_states), and the
// inventory a (re)started agent sends, which settles instances the host lost or never should have.
import { inTransaction, type DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import { InvalidState } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as actions from '../store/instance-actions.ts';
import type { HostInventory, HostWorkResult, PowerReport } from '../agent/protocol.ts';
import { POWER_STATE_CODES } from '../states.ts';
import { newRequestId } from '../../platform/ids.ts';
import type { Instance } from '../model.ts';
import { EVENT_NAMES, type LifecycleBase } from './lifecycle-base.ts';
import { powerCode } from './host-results.ts';

export interface HostSyncDeps {
  readonly db: DbHandle;
  readonly log: Logger;
  readonly now: () => number;
  readonly base: Pick<LifecycleBase, 'settle' | 'fault' | 'finishDelete'>;
  /** Whether the instance is one end of a migration that involves `host`. */
  isMigrating(i: Instance | undefined, host: string): boolean;
  /** The lifecycle's handling of a build result (a lost build is retried elsewhere). */
  onBuildResult(r: HostWorkResult, i: Instance): Promise<void>;
}

export function createHostSync(deps: HostSyncDeps) {
  const { db, log, now } = deps;
  const { settle, fault, finishDelete } = deps.base;

  return {
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
          const done = await inTransaction(db, async (trx) => {
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
          }).catch((e: unknown) => {
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
      present: HostInventory['instances'],
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
        else if (i.taskState === 'migrating' && deps.isMigrating(i, host)) continue;
        else if (i.vmState === 'building')
          await deps.onBuildResult(
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
        if (deps.isMigrating(i, host)) continue;
        // Deleted: all of it goes. Living on another host: only what this host has (its disks may be shared).
        (i ? out.forget : out.destroy).push(p.uuid);
      }
      return out;
    },
  };
}
