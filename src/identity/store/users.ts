// SQL for users, groups and group membership.
import type { Selectable } from 'kysely';
import type { GroupTable, UserTable, IdentityExecutor } from './tables.ts';
import type { Group, User } from '../model.ts';
import { flag, parseJson, uniquely } from '../../platform/db/store-helpers.ts';

const toUser = (r: Selectable<UserTable>): User => ({
  id: r.id,
  name: r.name,
  domainId: r.domain_id,
  enabled: r.enabled === 1,
  defaultProjectId: r.default_project_id,
  passwordHash: r.password_hash,
  passwordExpiresAt: r.password_expires_at,
  extra: parseJson(r.extra, {}),
});
const toGroup = (r: Selectable<GroupTable>): Group => ({
  id: r.id,
  name: r.name,
  domainId: r.domain_id,
  description: r.description,
  extra: parseJson(r.extra, {}),
});

const dupUser = (u: { name: string; domainId: string }) =>
  `Duplicate entry found with name ${u.name} at user level in domain ${u.domainId}.`;

export async function insertUser(db: IdentityExecutor, u: User): Promise<User> {
  const now = Date.now();
  await uniquely(dupUser(u), () =>
    db
      .insertInto('users')
      .values({
        id: u.id,
        name: u.name,
        domain_id: u.domainId,
        enabled: flag(u.enabled),
        default_project_id: u.defaultProjectId,
        password_hash: u.passwordHash,
        password_created_at: u.passwordHash ? now : null,
        password_expires_at: u.passwordExpiresAt,
        extra: JSON.stringify(u.extra),
        created_at: now,
      })
      .execute(),
  );
  return u;
}

export async function getUser(db: IdentityExecutor, id: string): Promise<User | undefined> {
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toUser(r);
}

export async function getUserByName(
  db: IdentityExecutor,
  domainId: string,
  name: string,
): Promise<User | undefined> {
  const r = await db
    .selectFrom('users')
    .selectAll()
    .where('domain_id', '=', domainId)
    .where('name', '=', name)
    .executeTakeFirst();
  return r && toUser(r);
}

export async function listUsers(
  db: IdentityExecutor,
  f: { name?: string; domainId?: string; enabled?: boolean; ids?: readonly string[] },
): Promise<User[]> {
  let q = db.selectFrom('users').selectAll().orderBy('name');
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domainId !== undefined) q = q.where('domain_id', '=', f.domainId);
  if (f.enabled !== undefined) q = q.where('enabled', '=', flag(f.enabled));
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', [...f.ids]);
  }
  return (await q.execute()).map(toUser);
}

export async function updateUser(
  db: IdentityExecutor,
  u: User,
  passwordChanged: boolean,
): Promise<User> {
  await uniquely(dupUser(u), () =>
    db
      .updateTable('users')
      .set({
        name: u.name,
        enabled: flag(u.enabled),
        default_project_id: u.defaultProjectId,
        extra: JSON.stringify(u.extra),
        ...(passwordChanged
          ? {
              password_hash: u.passwordHash,
              password_created_at: Date.now(),
              password_expires_at: u.passwordExpiresAt,
            }
          : {}),
      })
      .where('id', '=', u.id)
      .execute(),
  );
  return u;
}

export async function deleteUser(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

export async function insertGroup(db: IdentityExecutor, g: Group): Promise<Group> {
  await uniquely(
    `Duplicate entry found with name ${g.name} at group level in domain ${g.domainId}.`,
    () =>
      db
        .insertInto('groups')
        .values({
          id: g.id,
          name: g.name,
          domain_id: g.domainId,
          description: g.description,
          extra: JSON.stringify(g.extra),
          created_at: Date.now(),
        })
        .execute(),
  );
  return g;
}

export async function getGroup(db: IdentityExecutor, id: string): Promise<Group | undefined> {
  const r = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toGroup(r);
}

export async function listGroups(
  db: IdentityExecutor,
  f: { name?: string; domainId?: string; ids?: readonly string[] },
): Promise<Group[]> {
  let q = db.selectFrom('groups').selectAll().orderBy('name');
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domainId !== undefined) q = q.where('domain_id', '=', f.domainId);
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', [...f.ids]);
  }
  return (await q.execute()).map(toGroup);
}

export async function updateGroup(db: IdentityExecutor, g: Group): Promise<Group> {
  await uniquely(
    `Duplicate entry found with name ${g.name} at group level in domain ${g.domainId}.`,
    () =>
      db
        .updateTable('groups')
        .set({
          name: g.name,
          description: g.description,
          extra: JSON.stringify(g.extra),
        })
        .where('id', '=', g.id)
        .execute(),
  );
  return g;
}

export async function deleteGroup(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('groups').where('id', '=', id).execute();
}

export async function addMember(
  db: IdentityExecutor,
  groupId: string,
  userId: string,
): Promise<void> {
  await db
    .insertInto('user_groups')
    .values({ group_id: groupId, user_id: userId })
    .onConflict((oc) => oc.columns(['user_id', 'group_id']).doNothing())
    .execute();
}

export async function removeMember(
  db: IdentityExecutor,
  groupId: string,
  userId: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('user_groups')
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function isMember(
  db: IdentityExecutor,
  groupId: string,
  userId: string,
): Promise<boolean> {
  return (
    (await db
      .selectFrom('user_groups')
      .select('user_id')
      .where('group_id', '=', groupId)
      .where('user_id', '=', userId)
      .executeTakeFirst()) !== undefined
  );
}

export async function groupIdsOfUser(db: IdentityExecutor, userId: string): Promise<string[]> {
  return (
    await db.selectFrom('user_groups').select('group_id').where('user_id', '=', userId).execute()
  ).map((r) => r.group_id);
}

export async function userIdsInGroup(db: IdentityExecutor, groupId: string): Promise<string[]> {
  return (
    await db.selectFrom('user_groups').select('user_id').where('group_id', '=', groupId).execute()
  ).map((r) => r.user_id);
}
