// SQL for instances: rows, and the one writer of vm_state/task_state (transition), which applies
// states.ts as a compare-and-swap UPDATE, like Nova's expected_task_state.
import type { Selectable } from 'kysely';
import type { InstanceTable } from '../../platform/db/schema.ts';
import { parseJson, type Executor } from '../../platform/db/store-helpers.ts';
import { InvalidState } from '../../platform/errors.ts';
import { instanceTransitions, type InstanceAction, type InstanceTransition, type TaskState, type VmState } from '../states.ts';
import type { Instance, InstanceFlavor } from '../model.ts';

const toInstance = (r: Selectable<InstanceTable>): Instance => ({
  id: r.id, name: r.name, projectId: r.project_id, userId: r.user_id, host: r.host, availabilityZone: r.availability_zone,
  flavor: parseJson<InstanceFlavor>(r.flavor, { id: '', name: '', vcpus: 0, memoryMb: 0, rootGb: 0, ephemeralGb: 0, swapMb: 0, extraSpecs: {} }),
  imageId: r.image_id, keyName: r.key_name, keyData: r.key_data, userData: r.user_data, metadata: parseJson(r.metadata, {}), hostname: r.hostname,
  vmState: r.vm_state as VmState, taskState: r.task_state as TaskState | null, powerState: Number(r.power_state), lockedBy: r.locked_by,
  fault: r.fault === null ? null : parseJson(r.fault, null), launchedAt: r.launched_at === null ? null : Number(r.launched_at),
  createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

export type NewInstance = Omit<Instance, 'host' | 'vmState' | 'taskState' | 'powerState' | 'lockedBy' | 'fault' | 'launchedAt' | 'updatedAt'>;

/** A new instance starts building, waiting for the scheduler. */
export async function insertInstance(db: Executor, i: NewInstance): Promise<Instance> {
  await db.insertInto('instances').values({
    id: i.id, name: i.name, project_id: i.projectId, user_id: i.userId, host: null, availability_zone: i.availabilityZone, flavor: JSON.stringify(i.flavor),
    image_id: i.imageId, key_name: i.keyName, key_data: i.keyData, user_data: i.userData, metadata: JSON.stringify(i.metadata), hostname: i.hostname,
    vm_state: 'building', task_state: 'scheduling', power_state: 0, locked_by: null, fault: null, launched_at: null,
    created_at: i.createdAt, updated_at: i.createdAt, deleted_at: null,
  }).execute();
  return (await getInstance(db, i.id))!;
}

export async function getInstance(db: Executor, id: string): Promise<Instance | undefined> {
  const r = await db.selectFrom('instances').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return r && toInstance(r);
}

/** Columns a transition may set along with the states (the host chosen, power state, a fault, ...). */
export type InstanceFields = Partial<Pick<Selectable<InstanceTable>, 'host' | 'availability_zone' | 'power_state' | 'fault' | 'launched_at' | 'flavor' | 'image_id' | 'deleted_at'>>;

/**
 * Applies `action` as one UPDATE that matches only the states the table allows it from. Throws
 * InvalidState (409) naming the current state when another action got there first; returns
 * undefined when the instance is gone.
 */
export async function transition(db: Executor, id: string, action: InstanceAction, fields: InstanceFields, now: number): Promise<Instance | undefined> {
  const t: InstanceTransition = instanceTransitions[action];
  const tasks = t.from.task.filter((x): x is TaskState => x !== null);
  const r = await db.updateTable('instances')
    .set({ ...fields, task_state: t.task, ...(t.vm ? { vm_state: t.vm } : {}), updated_at: now })
    .where('id', '=', id).where('deleted_at', 'is', null).where('vm_state', 'in', [...t.from.vm])
    .where((eb) => eb.or([
      ...(tasks.length > 0 ? [eb('task_state', 'in', tasks)] : []),
      ...(t.from.task.includes(null) ? [eb('task_state', 'is', null)] : []),
    ]))
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    const cur = await db.selectFrom('instances').select(['vm_state', 'task_state']).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    if (!cur) return undefined;
    throw new InvalidState(`Cannot '${action}' instance ${id} while it is in vm_state ${cur.vm_state}${cur.task_state ? ` and task_state ${cur.task_state}` : ''}.`,
      'instance_invalid_state', { vmState: cur.vm_state, taskState: cur.task_state, action });
  }
  return getInstance(db, id);
}
