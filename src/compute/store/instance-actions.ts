// SQL for the instance action log (os-instance-actions): one row per user action on a server, and
// the events of the work it caused (compute_build_and_run_instance, compute_stop_instance, ...).
import type { Selectable } from 'kysely';
import type { InstanceActionTable, ComputeExecutor } from './tables.ts';

export interface InstanceActionEvent {
  readonly event: string;
  readonly host: string | null;
  readonly result: string | null;
  readonly traceback: string | null;
  readonly startTime: number;
  readonly finishTime: number | null;
}

export interface InstanceAction {
  readonly id: string;
  readonly instanceId: string;
  readonly requestId: string;
  readonly action: string;
  readonly projectId: string;
  readonly userId: string;
  readonly message: string | null;
  readonly startTime: number;
  readonly finishTime: number | null;
  readonly updatedAt: number;
}

const toAction = (r: Selectable<InstanceActionTable>): InstanceAction => ({
  id: r.id,
  instanceId: r.instance_id,
  requestId: r.request_id,
  action: r.action,
  projectId: r.project_id,
  userId: r.user_id,
  message: r.message,
  startTime: Number(r.start_time),
  finishTime: r.finish_time === null ? null : Number(r.finish_time),
  updatedAt: Number(r.updated_at),
});

export async function startActions(
  db: ComputeExecutor,
  list: readonly Omit<InstanceAction, 'message' | 'finishTime' | 'updatedAt'>[],
): Promise<void> {
  // In chunks, under SQLite's bound-parameter limit, for a large multi-create.
  for (let at = 0; at < list.length; at += 1000) {
    await db
      .insertInto('instance_actions')
      .values(
        list.slice(at, at + 1000).map((a) => ({
          id: a.id,
          instance_id: a.instanceId,
          request_id: a.requestId,
          action: a.action,
          project_id: a.projectId,
          user_id: a.userId,
          message: null,
          start_time: a.startTime,
          finish_time: null,
          updated_at: a.startTime,
        })),
      )
      .execute();
  }
}

/** Records an event's start (result null) or its end; an event's row is keyed by (action, event). */
export async function recordEvent(
  db: ComputeExecutor,
  actionId: string,
  e: {
    event: string;
    host: string | null;
    start?: number;
    finish?: number;
    result?: 'Success' | 'Error';
    traceback?: string;
  },
): Promise<void> {
  const now = e.finish ?? e.start ?? Date.now();
  await db
    .insertInto('instance_action_events')
    .values({
      action_id: actionId,
      event: e.event,
      host: e.host,
      result: e.result ?? null,
      traceback: e.traceback ?? null,
      start_time: e.start ?? now,
      finish_time: e.finish ?? null,
    })
    .onConflict((oc) =>
      oc.columns(['action_id', 'event']).doUpdateSet({
        result: e.result ?? null,
        traceback: e.traceback ?? null,
        finish_time: e.finish ?? null,
        host: e.host,
      }),
    )
    .execute();
  await db
    .updateTable('instance_actions')
    .set({
      updated_at: now,
      ...(e.finish !== undefined ? { finish_time: e.finish } : {}),
      ...(e.result === 'Error' ? { message: 'Error' } : {}),
    })
    .where('id', '=', actionId)
    .execute();
}

/** Ends an event still open (a wait that is over); one already ended, or never begun, stays as it is. */
export async function finishOpenEvent(
  db: ComputeExecutor,
  actionId: string,
  event: string,
  finish: number,
): Promise<boolean> {
  const r = await db
    .updateTable('instance_action_events')
    .set({ finish_time: finish, result: 'Success' })
    .where('action_id', '=', actionId)
    .where('event', '=', event)
    .where('finish_time', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The request an action was asked by, and when (for the log lines of its host work). */
export async function actionRequest(
  db: ComputeExecutor,
  actionId: string,
): Promise<{ requestId: string; startTime: number } | undefined> {
  const r = await db
    .selectFrom('instance_actions')
    .select(['request_id', 'start_time'])
    .where('id', '=', actionId)
    .executeTakeFirst();
  return r && { requestId: r.request_id, startTime: Number(r.start_time) };
}

export async function listActions(
  db: ComputeExecutor,
  instanceId: string,
  f: { limit: number; changesSince?: number; changesBefore?: number; before?: InstanceAction },
): Promise<InstanceAction[]> {
  let q = db.selectFrom('instance_actions').selectAll().where('instance_id', '=', instanceId);
  if (f.changesSince !== undefined) q = q.where('updated_at', '>=', f.changesSince);
  if (f.changesBefore !== undefined) q = q.where('updated_at', '<=', f.changesBefore);
  if (f.before) {
    const b = f.before;
    q = q.where((eb) =>
      eb.or([
        eb('start_time', '<', b.startTime),
        eb.and([eb('start_time', '=', b.startTime), eb('id', '<', b.id)]),
      ]),
    );
  }
  const rows = await q.orderBy('start_time', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map(toAction);
}

export async function getActionByRequest(
  db: ComputeExecutor,
  instanceId: string,
  requestId: string,
): Promise<{ action: InstanceAction; events: InstanceActionEvent[] } | undefined> {
  const r = await db
    .selectFrom('instance_actions')
    .selectAll()
    .where('instance_id', '=', instanceId)
    .where('request_id', '=', requestId)
    // Request ids are the API's own since issue 15; rows from before may share a caller's id:
    // the newest of them is the one named, the same at every read.
    .orderBy('start_time', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  const a = r && toAction(r);
  if (!a) return undefined;
  const events = await db
    .selectFrom('instance_action_events')
    .selectAll()
    .where('action_id', '=', a.id)
    .orderBy('start_time')
    .execute();
  return {
    action: a,
    events: events.map((e) => ({
      event: e.event,
      host: e.host,
      result: e.result,
      traceback: e.traceback,
      startTime: Number(e.start_time),
      finishTime: e.finish_time === null ? null : Number(e.finish_time),
    })),
  };
}
