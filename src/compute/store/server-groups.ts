// SQL for server groups and their members (an instance is in at most one group).
import type { Selectable } from 'kysely';
import type { ServerGroupTable, ComputeExecutor } from './tables.ts';
import { parseJson } from '../../platform/db/store-helpers.ts';
import type { GroupPolicy } from '../model.ts';

export interface ServerGroup {
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly userId: string;
  readonly policy: GroupPolicy;
  readonly rules: { readonly max_server_per_host?: number };
  readonly members: readonly string[];
  readonly createdAt: number;
}

const toGroup = (r: Selectable<ServerGroupTable>, members: readonly string[]): ServerGroup => ({
  id: r.id,
  name: r.name,
  projectId: r.project_id,
  userId: r.user_id,
  policy: r.policy as GroupPolicy,
  rules: parseJson(r.rules, {}),
  members,
  createdAt: Number(r.created_at),
});

export async function insertGroup(
  db: ComputeExecutor,
  g: Omit<ServerGroup, 'members'>,
): Promise<void> {
  await db
    .insertInto('server_groups')
    .values({
      id: g.id,
      name: g.name,
      project_id: g.projectId,
      user_id: g.userId,
      policy: g.policy,
      rules: JSON.stringify(g.rules),
      created_at: g.createdAt,
    })
    .execute();
}

async function membersOf(
  db: ComputeExecutor,
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return by;
  // Members are live instances only: a deleted instance leaves its group.
  const rows = await db
    .selectFrom('server_group_members')
    .innerJoin('instances', 'instances.id', 'server_group_members.instance_id')
    .select(['server_group_members.group_id', 'server_group_members.instance_id'])
    .where('server_group_members.group_id', 'in', [...ids])
    .where('instances.deleted_at', 'is', null)
    .orderBy('instances.created_at')
    .execute();
  for (const r of rows) by.get(r.group_id)?.push(r.instance_id);
  return by;
}

export async function getGroup(db: ComputeExecutor, id: string): Promise<ServerGroup | undefined> {
  const r = await db
    .selectFrom('server_groups')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return r && toGroup(r, (await membersOf(db, [r.id])).get(r.id) ?? []);
}

export async function listGroups(
  db: ComputeExecutor,
  f: { projectId?: string; limit: number; offset: number },
): Promise<ServerGroup[]> {
  let q = db.selectFrom('server_groups').selectAll().orderBy('created_at').orderBy('id');
  if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
  const rows = await q.limit(f.limit).offset(f.offset).execute();
  const members = await membersOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toGroup(r, members.get(r.id) ?? []));
}

export async function deleteGroup(db: ComputeExecutor, id: string): Promise<boolean> {
  const r = await db.deleteFrom('server_groups').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function countGroups(db: ComputeExecutor, projectId: string): Promise<number> {
  const r = await db
    .selectFrom('server_groups')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function addMembers(
  db: ComputeExecutor,
  groupId: string,
  instanceIds: readonly string[],
): Promise<void> {
  for (let at = 0; at < instanceIds.length; at += 1000) {
    await db
      .insertInto('server_group_members')
      .values(
        instanceIds.slice(at, at + 1000).map((instance_id) => ({ group_id: groupId, instance_id })),
      )
      .execute();
  }
}

export async function groupOf(
  db: ComputeExecutor,
  instanceId: string,
): Promise<string | undefined> {
  return (
    await db
      .selectFrom('server_group_members')
      .select('group_id')
      .where('instance_id', '=', instanceId)
      .executeTakeFirst()
  )?.group_id;
}

/**
 * The hosts the group's other members hold claims on, one entry per member and host (for the
 * affinity filters). Claims, not instances.host: a claim exists from the moment a scheduler (of any
 * api replica) made it, before the instance row says where it went.
 */
export async function memberHosts(
  db: ComputeExecutor,
  groupId: string,
  except: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('server_group_members')
    .innerJoin('allocations', 'allocations.instance_id', 'server_group_members.instance_id')
    .select('allocations.host')
    .where('server_group_members.group_id', '=', groupId)
    .where('server_group_members.instance_id', '!=', except)
    .execute();
  return rows.map((r) => r.host);
}
