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
import { releaseAllocations, setAllocation } from '../store/claims.ts';
import { flavorDiskGb } from '../scheduler/host-selection.ts';
import { noteBuildResult } from '../store/host-states.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { agentTarget } from '../agent/host-agent.ts';
import { toJson, type HostOp, type HostWork, type HostWorkResult, type WireInstance } from '../agent/protocol.ts';
import { POWER_STATE_CODES, type InstanceAction } from '../states.ts';
import type { Instance, InstanceFault } from '../model.ts';
import type { ImagePort } from './ports.ts';

/** Nova's max_attempts: a build is tried on this many hosts before it ends in ERROR. */
export const MAX_BUILD_ATTEMPTS = 3;

/** The transition that completes each piece of host work. */
const COMPLETES: Readonly<Record<HostOp, InstanceAction>> = {
  build: 'spawned', destroy: 'deleted', stop: 'stopped', start: 'started', reboot: 'rebooted', reboot_hard: 'rebooted', pause: 'paused',
  unpause: 'unpaused', suspend: 'suspended', resume: 'resumed', rescue: 'rescued', unrescue: 'unrescued', rebuild: 'rebuilt', resize: 'resized',
  confirm_resize: 'resizeConfirmed', revert_resize: 'resizeReverted', snapshot: 'snapshotDone', shelve_offload: 'shelveOffloaded', unshelve: 'unshelved',
};

/** Nova's event names for host work (os-instance-actions events). */
export const EVENT_NAMES: Readonly<Record<HostOp, string>> = {
  build: 'compute__do_build_and_run_instance', destroy: 'compute_terminate_instance', stop: 'compute_stop_instance', start: 'compute_start_instance',
  reboot: 'compute_reboot_instance', reboot_hard: 'compute_reboot_instance', pause: 'compute_pause_instance', unpause: 'compute_unpause_instance',
  suspend: 'compute_suspend_instance', resume: 'compute_resume_instance', rescue: 'compute_rescue_instance', unrescue: 'compute_unrescue_instance',
  rebuild: 'compute_rebuild_instance', resize: 'compute_resize_instance', confirm_resize: 'compute_confirm_resize', revert_resize: 'compute_revert_resize_instance',
  snapshot: 'compute_snapshot_instance', shelve_offload: 'compute_shelve_offload_instance', unshelve: 'compute_unshelve_instance',
};

const powerCode = (p: HostWorkResult['power_state']): number => (p === null ? POWER_STATE_CODES.nostate : POWER_STATE_CODES[p]);

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
    const img = i.imageId === null ? undefined : await deps.images.describe(i.imageId);
    if (i.imageId !== null && !img) throw new InvalidState(`Image ${i.imageId} of instance ${i.id} no longer exists.`, 'image_gone');
    return {
      uuid: i.id, name: i.name, hostname: i.hostname, flavor: i.flavor,
      image: { id: i.imageId ?? '', disk_format: img?.diskFormat ?? 'raw', checksum: img?.checksum ?? null, properties: img?.properties ?? {} },
      metadata: { public_keys: i.keyName !== null && i.keyData !== null ? { [i.keyName]: i.keyData } : {}, user_data: i.userData, meta: i.metadata, config_drive: i.configDrive },
    };
  }

  const fault = (message: string, code = 500): string => JSON.stringify({ code, message, details: '', created: now() } satisfies InstanceFault);

  function requireBus(): Bus {
    if (!bus) throw new Unavailable('The compute service is not connected to the message bus; start it with `nubes up` or `nubes serve api`.', 'compute_no_bus');
    return bus;
  }

  async function event(actionId: string | null, op: HostOp, host: string | null, outcome?: { ok: boolean; message?: string }): Promise<void> {
    if (actionId === null) return;
    await actions.recordEvent(db, actionId, {
      event: EVENT_NAMES[op], host,
      ...(outcome ? { finish: now(), result: outcome.ok ? 'Success' : 'Error', ...(outcome.message ? { traceback: outcome.message } : {}) } : { start: now() }),
    });
  }

  /** Casts work to the instance's host and records the start of its event. */
  async function cast(i: Instance, work: Omit<HostWork, 'uuid'>): Promise<void> {
    if (i.host === null) throw new InvalidState(`Instance ${i.id} has no host yet.`, 'instance_not_placed');
    await event(work.action_id, work.op, i.host);
    await requireBus().cast(agentTarget(i.host), 'instance.work', toJson({ ...work, uuid: i.id }));
  }

  /** A transition whose loser is an instance deleted meanwhile: nothing more to do then. */
  async function settle(id: string, action: InstanceAction, fields: instances.InstanceFields): Promise<Instance | undefined> {
    try {
      return await instances.transition(db, id, action, fields, now());
    } catch (e) {
      if (e instanceof InvalidState) { log.info({ instance: id, action, err: e.message }, 'instance moved on meanwhile'); return undefined; }
      throw e;
    }
  }

  async function buildFailed(i: Instance, actionId: string | null, message: string): Promise<void> {
    await settle(i.id, 'buildFailed', { fault: fault(message), power_state: POWER_STATE_CODES.nostate });
    await releaseAllocations(db, i.id);
    await event(actionId, 'build', i.host, { ok: false, message });
  }

  /** Places each instance (claims included) and casts its build; failures end in ERROR with a fault. */
  async function schedule(list: readonly Instance[], actionIds: ReadonlyMap<string, string>): Promise<void> {
    const placements = await scheduler.place(list);
    await Promise.all(list.map(async (i, n) => {
      const p = placements[n]!;
      const actionId = actionIds.get(i.id) ?? null;
      if (!p.ok) { await buildFailed(i, actionId, p.reason); return; }
      const placed = await settle(i.id, 'schedule', { host: p.host, availability_zone: i.availabilityZone ?? p.availabilityZone });
      // Deleted while it was being scheduled: give the claim back.
      if (!placed) { await releaseAllocations(db, i.id); return; }
      // The network and volume services plug in here (ports, boot volumes) before the spawn.
      const spawning = await settle(i.id, 'spawn', {});
      if (!spawning) return;
      try {
        await cast(spawning, { op: 'build', action_id: actionId, instance: await wireInstance(spawning) });
      } catch (e) {
        await buildFailed(spawning, actionId, `Build could not be sent to host ${p.host}: ${(e as Error).message}`);
      }
    }));
  }

  async function finishDelete(id: string): Promise<void> {
    const t = now();
    await settle(id, 'deleted', { deleted_at: t, terminated_at: t, power_state: POWER_STATE_CODES.nostate });
    await releaseAllocations(db, id);
  }

  const flavorFields = (f: Instance['flavor']): instances.InstanceFields => ({ flavor: JSON.stringify(f), vcpus: f.vcpus, memory_mb: f.memoryMb });
  const allocationOf = (i: Instance, host: string, f: Instance['flavor']) =>
    ({ instanceId: i.id, host, vcpus: f.vcpus, memoryMb: f.memoryMb, diskGb: flavorDiskGb(f) });

  /** What completing some work changes besides the state: flavors and claims of a resize, the host of a shelve. */
  async function afterSuccess(i: Instance, r: HostWorkResult): Promise<instances.InstanceFields> {
    const m = i.migration;
    switch (r.op) {
      case 'resize': return m ? flavorFields(m.newFlavor) : {};
      case 'confirm_resize':
        if (m) await setAllocation(db, allocationOf(i, m.destHost, m.newFlavor));
        return { migration: null };
      case 'revert_resize':
        if (m) await setAllocation(db, allocationOf(i, m.sourceHost, m.oldFlavor));
        return { ...(m ? flavorFields(m.oldFlavor) : {}), migration: null };
      case 'shelve_offload':
        await releaseAllocations(db, i.id);
        return { host: null, power_state: POWER_STATE_CODES.nostate };
      default: return {};
    }
  }

  async function afterFailure(i: Instance, r: HostWorkResult): Promise<instances.InstanceFields> {
    const m = i.migration;
    switch (r.op) {
      // The instance keeps its old flavor; the claim for the new one goes.
      case 'resize':
        if (m) await setAllocation(db, allocationOf(i, m.sourceHost, m.oldFlavor));
        return { migration: null };
      case 'unshelve':
        await releaseAllocations(db, i.id);
        return { host: null };
      default: return {};
    }
  }

  async function onBuildResult(r: HostWorkResult, i: Instance): Promise<void> {
    if (r.ok) {
      await settle(i.id, 'spawned', { power_state: powerCode(r.power_state), launched_at: now() });
      await noteBuildResult(db, r.host, true);
      await event(r.action_id, 'build', r.host, { ok: true });
      return;
    }
    await noteBuildResult(db, r.host, false);
    await releaseAllocations(db, i.id, r.host);
    const tried = [...i.request.tried, r.host];
    if (!r.retryable || tried.length >= MAX_BUILD_ATTEMPTS) {
      await buildFailed(i, r.action_id, `Build of instance ${i.id} failed on ${r.host}: ${r.message ?? 'unknown error'}${tried.length > 1 ? ` (tried ${tried.join(', ')})` : ''}`);
      return;
    }
    log.warn({ instance: i.id, host: r.host, err: r.message }, 'build failed; rescheduling');
    await event(r.action_id, 'build', r.host, { ok: false, ...(r.message !== undefined ? { message: r.message } : {}) });
    const again = await settle(i.id, 'reschedule', { host: null, request_spec: JSON.stringify({ ...i.request, tried }) });
    if (again) await schedule([again], new Map(r.action_id ? [[i.id, r.action_id]] : []));
  }

  return {
    attach(b: Bus): void { bus = b; },

    /**
     * Builds whose api process stopped before it placed them (still 'scheduling' after `stalledMs`):
     * one replica takes each over and schedules it. Returns how many it took.
     */
    async sweepStalled(stalledMs: number): Promise<number> {
      const stalled = await instances.stalledInstances(db, ['scheduling'], now() - stalledMs, 100);
      const mine: Instance[] = [];
      for (const i of stalled) if (await instances.takeOver(db, i.id, i.updatedAt, now())) mine.push(i);
      if (mine.length > 0) {
        log.warn({ count: mine.length }, 'scheduling builds left behind by a stopped api process');
        await schedule(mine, new Map());
      }
      return mine.length;
    },

    /** Unshelve: a host for an offloaded instance (claim included), then the work cast to it. */
    async placeAndCast(i: Instance, op: 'unshelve', actionId: string): Promise<void> {
      const fresh = { ...i, request: { ...i.request, tried: [] } };
      const [p] = await scheduler.place([fresh]);
      if (!p || !p.ok) {
        await settle(i.id, 'taskFailed', { fault: fault(p?.reason ?? 'No valid host was found.') });
        await event(actionId, op, null, { ok: false, message: p?.reason ?? 'No valid host was found.' });
        return;
      }
      const placed = await instances.updateInstance(db, i.id, { host: p.host }, now());
      if (!placed) { await releaseAllocations(db, i.id); return; }
      await cast(placed, { op, action_id: actionId, instance: await wireInstance(placed) });
    },
    schedule,
    cast,
    wireInstance,

    /** Deletes an instance already in 'deleting': on its host when it has a live one, else here. */
    async destroy(i: Instance, actionId: string | null): Promise<void> {
      if (i.host === null || !(await deps.hostIsUp(i.host))) { await finishDelete(i.id); return; }
      await cast(i, { op: 'destroy', action_id: actionId });
    },

    /** An agent's report of work done or failed. */
    async onResult(r: HostWorkResult): Promise<void> {
      const i = await instances.getInstance(db, r.uuid);
      if (!i) { log.info({ instance: r.uuid, op: r.op }, 'result for an instance already gone'); return; }
      if (r.op === 'build') { await onBuildResult(r, i); return; }
      if (r.op === 'destroy') {
        if (r.ok) await finishDelete(i.id);
        else await settle(i.id, 'taskErrored', { fault: fault(`Deleting the instance on ${r.host} failed: ${r.message ?? 'unknown error'}`) });
        await event(r.action_id, r.op, r.host, { ok: r.ok, ...(r.message !== undefined ? { message: r.message } : {}) });
        return;
      }
      const fields: instances.InstanceFields = r.power_state !== null ? { power_state: powerCode(r.power_state) } : {};
      if (r.ok) await settle(i.id, COMPLETES[r.op], { ...fields, ...await afterSuccess(i, r) });
      else await settle(i.id, 'taskFailed', { ...fields, ...await afterFailure(i, r), fault: fault(`${r.op} failed on ${r.host}: ${r.message ?? 'unknown error'}`) });
      await event(r.action_id, r.op, r.host, { ok: r.ok, ...(r.message !== undefined ? { message: r.message } : {}) });
    },

    /**
     * A (re)started agent says what its hypervisor has. Instances the cloud placed there but the
     * hypervisor lacks end in ERROR (or finish what they were doing: a delete completes, a build is
     * retried elsewhere); instances the cloud does not know are handed back for destruction.
     */
    async reconcile(host: string, present: readonly { uuid: string; power_state: HostWorkResult['power_state'] }[]): Promise<string[]> {
      const expected = await instances.instancesOnHost(db, host);
      const here = new Map(present.map((p) => [p.uuid, p]));
      for (const i of expected) {
        const found = here.get(i.id);
        if (found) {
          if (powerCode(found.power_state) !== i.powerState) await instances.updateInstance(db, i.id, { power_state: powerCode(found.power_state) }, now());
          continue;
        }
        if (i.taskState === 'deleting') await finishDelete(i.id);
        else if (i.vmState === 'building') await onBuildResult({ op: 'build', uuid: i.id, host, action_id: null, ok: false, power_state: null, retryable: true, message: 'the host restarted during the build' }, i);
        else if (i.vmState !== 'shelved_offloaded') await settle(i.id, 'vanished', { power_state: POWER_STATE_CODES.nostate, fault: fault(`Instance ${i.id} is no longer on its host ${host} (the host restarted without it).`) });
      }
      const known = new Set(expected.map((i) => i.id));
      return present.filter((p) => !known.has(p.uuid)).map((p) => p.uuid);
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
