// What the steps of host work (instance.step) change while it runs: Nova's finer task states, the
// progress of builds, snapshots, rebuilds, resizes and migrations, and the events that say why an
// action waits. A step that arrives late (no longer fitting the instance's task) changes nothing.
import type { DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import { InvalidState } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as actions from '../store/instance-actions.ts';
import type { HostOp, HostWorkStep, WorkStep } from '../agent/protocol.ts';
import { actionName } from '../agent/protocol.ts';
import type { InstanceAction, TaskState } from '../states.ts';

/** What one step does: a transition (its own guard), or progress while the task is one of `during`. */
interface StepEffect {
  readonly action?: InstanceAction;
  readonly progress?: number;
  readonly during?: readonly TaskState[];
}

const RESIZING: readonly TaskState[] = [
  'resize_prep',
  'resize_migrating',
  'resize_migrated',
  'resize_finish',
];

/** The effect of each op's steps; an op or step not named changes no state. */
export const STEP_EFFECTS: Readonly<
  Partial<Record<HostOp, Readonly<Partial<Record<WorkStep, StepEffect>>>>>
> = {
  build: { started: { progress: 30, during: ['spawning'] } },
  reboot: { queued: { action: 'rebootPending' }, started: { action: 'rebootStarted' } },
  reboot_hard: {
    queued: { action: 'rebootPendingHard' },
    started: { action: 'rebootStartedHard' },
  },
  snapshot: {
    started: { action: 'snapshotPending', progress: 10 },
    image_pending_upload: { action: 'snapshotPendingUpload', progress: 30 },
    image_uploading: { action: 'snapshotUploading', progress: 50 },
  },
  shelve: {
    image_pending_upload: { action: 'shelvingImagePendingUpload', progress: 40 },
    image_uploading: { action: 'shelvingImageUploading', progress: 60 },
  },
  rebuild: {
    started: { progress: 20, during: ['rebuilding'] },
    spawning: { action: 'rebuildSpawning', progress: 50 },
  },
  resize: { started: { progress: 30, during: ['resize_migrating'] } },
  live_migration_prepare: { started: { progress: 10, during: ['migrating'] } },
  live_migration: { started: { progress: 40, during: ['migrating'] } },
  live_migration_finish: { started: { progress: 90, during: ['migrating'] } },
  cold_migration_prepare: { started: { progress: 10, during: RESIZING } },
  cold_migration: { started: { progress: 40, during: RESIZING } },
  cold_migration_finish: { started: { progress: 80, during: RESIZING } },
};

/** The events that say why an action waits (not Nova's: Nova has no names for these waits). */
export const WAIT_EVENTS = {
  /** The host has the work but runs the instance's earlier work first. */
  queued: 'compute_wait_for_previous_work',
  /** The guest was asked to shut down (the power button) and is given time to. */
  shutdown: 'compute_clean_shutdown_wait',
  /** It did not shut down in that time and was forced off. */
  forced: 'compute_force_power_off',
} as const;

export function createWorkSteps(deps: { db: DbHandle; log: Logger; now: () => number }) {
  const { db, log, now } = deps;

  async function applyEffect(s: HostWorkStep, e: StepEffect): Promise<void> {
    const fields = e.progress !== undefined ? { progress: e.progress } : {};
    if (e.action) {
      try {
        const t = await instances.transition(db, s.uuid, e.action, fields, now());
        if (t)
          log.debug(
            { instance_id: s.uuid, request_id: s.request_id ?? null, task_state: t.taskState },
            `instance.${actionName(s.op)} ${s.step}`,
          );
      } catch (err) {
        // Late: the task has moved on (or ended) since the host took this step.
        if (!(err instanceof InvalidState)) throw err;
      }
    } else if (e.progress !== undefined && e.during) {
      await instances.noteProgress(db, s.uuid, e.during, e.progress, now());
    }
  }

  async function recordWait(s: HostWorkStep): Promise<void> {
    const id = s.action_id;
    if (id === null) return;
    const at = now();
    switch (s.step) {
      case 'queued':
        if (s.behind)
          await actions.recordEvent(db, id, { event: WAIT_EVENTS.queued, host: s.host, start: at });
        return;
      case 'started':
        if (s.behind) await actions.finishOpenEvent(db, id, WAIT_EVENTS.queued, at);
        return;
      case 'shutdown_wait':
        await actions.recordEvent(db, id, { event: WAIT_EVENTS.shutdown, host: s.host, start: at });
        return;
      case 'shutdown_done':
        await actions.finishOpenEvent(db, id, WAIT_EVENTS.shutdown, at);
        return;
      case 'shutdown_forced':
        await actions.finishOpenEvent(db, id, WAIT_EVENTS.shutdown, at);
        await actions.recordEvent(db, id, {
          event: WAIT_EVENTS.forced,
          host: s.host,
          start: at,
          finish: at,
          result: 'Success',
        });
        return;
      default:
        return;
    }
  }

  return {
    /** An agent's step of work under way. */
    async onStep(s: HostWorkStep): Promise<void> {
      const e = STEP_EFFECTS[s.op]?.[s.step];
      if (e) await applyEffect(s, e);
      await recordWait(s);
    },
  };
}
