// SQL for users, groups and group membership, and what the password rules keep per user: failed
// sign-ins, the last sign-in, and earlier passwords (hashes only).
import type { Selectable } from 'kysely';
import type { GroupTable, UserTable, IdentityExecutor } from './tables.ts';
import {
  USER_OPTION_NAMES,
  type Group,
  type SignInState,
  type User,
  type UserOptions,
} from '../model.ts';
import { flag, parseJson, uniquely } from '../../platform/db/store-helpers.ts';

const toUser = (r: Selectable<UserTable>): User => ({
  id: r.id,
  name: r.name,
  domainId: r.domain_id,
  enabled: r.enabled === 1,
  defaultProjectId: r.default_project_id,
  passwordHash: r.password_hash,
  passwordExpiresAt: r.password_expires_at,
  options: toOptions(parseJson(r.options, {})),
  extra: parseJson(r.extra, {}),
});
/** The stored options the model knows, booleans only (a row is never trusted to be well formed). */
function toOptions(raw: Readonly<Record<string, unknown>>): UserOptions {
  const o: Partial<Record<(typeof USER_OPTION_NAMES)[number], boolean>> = {};
  for (const name of USER_OPTION_NAMES) {
    const v = raw[name];
    if (typeof v === 'boolean') o[name] = v;
  }
  return o;
}
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
        failed_auth_count: 0,
        failed_auth_at: null,
        last_active_at: null,
        password_self_service: 0,
        options: JSON.stringify(u.options),
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

/** How a password change is written: whether its user made it (not an administrator), and how
 * many earlier passwords to keep as hashes (the replaced one included; 0 keeps none). */
export interface PasswordWrite {
  readonly selfService: boolean;
  readonly keepHistory: number;
}

/** Writes `u`; with `password`, also its password columns, the replaced hash going to the history.
 * Run it in a transaction when `password` is given (it reads the replaced hash first). */
export async function updateUser(
  db: IdentityExecutor,
  u: User,
  password?: PasswordWrite,
): Promise<User> {
  const now = Date.now();
  if (password) {
    const old = await db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', u.id)
      .executeTakeFirst();
    if (old?.password_hash && password.keepHistory > 0)
      await db
        .insertInto('password_history')
        .values({
          id: crypto.randomUUID(),
          user_id: u.id,
          password_hash: old.password_hash,
          created_at: now,
        })
        .execute();
    await pruneHistory(db, u.id, password.keepHistory);
  }
  await uniquely(dupUser(u), () =>
    db
      .updateTable('users')
      .set({
        name: u.name,
        enabled: flag(u.enabled),
        default_project_id: u.defaultProjectId,
        options: JSON.stringify(u.options),
        extra: JSON.stringify(u.extra),
        ...(password
          ? {
              password_hash: u.passwordHash,
              password_created_at: now,
              password_expires_at: u.passwordExpiresAt,
              password_self_service: flag(password.selfService),
            }
          : {}),
      })
      .where('id', '=', u.id)
      .execute(),
  );
  return u;
}

/** Keeps the newest `keep` earlier passwords of a user. */
async function pruneHistory(db: IdentityExecutor, userId: string, keep: number): Promise<void> {
  const kept = db
    .selectFrom('password_history')
    .select('id')
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .limit(keep);
  let q = db.deleteFrom('password_history').where('user_id', '=', userId);
  if (keep > 0) q = q.where('id', 'not in', kept);
  await q.execute();
}

/** The hashes of a user's newest `limit` earlier passwords (the current one is not among them). */
export async function passwordHistory(
  db: IdentityExecutor,
  userId: string,
  limit: number,
): Promise<string[]> {
  if (limit <= 0) return [];
  const rows = await db
    .selectFrom('password_history')
    .select('password_hash')
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.password_hash);
}

export async function getSignInState(
  db: IdentityExecutor,
  id: string,
): Promise<SignInState | undefined> {
  const r = await db
    .selectFrom('users')
    .select([
      'failed_auth_count',
      'failed_auth_at',
      'last_active_at',
      'created_at',
      'password_created_at',
      'password_self_service',
    ])
    .where('id', '=', id)
    .executeTakeFirst();
  return (
    r && {
      failedAuthCount: r.failed_auth_count,
      failedAuthAt: r.failed_auth_at,
      lastActiveAt: r.last_active_at,
      createdAt: r.created_at,
      passwordCreatedAt: r.password_created_at,
      passwordSelfService: r.password_self_service === 1,
    }
  );
}

/** Counts one more failed sign-in, in the database, so every api replica counts the same ones. */
export async function recordFailedAuth(
  db: IdentityExecutor,
  id: string,
  at: number,
): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => ({ failed_auth_count: eb('failed_auth_count', '+', 1), failed_auth_at: at }))
    .where('id', '=', id)
    .execute();
}

export async function resetFailedAuth(db: IdentityExecutor, id: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ failed_auth_count: 0, failed_auth_at: null })
    .where('id', '=', id)
    .execute();
}

export async function setLastActive(db: IdentityExecutor, id: string, at: number): Promise<void> {
  await db.updateTable('users').set({ last_active_at: at }).where('id', '=', id).execute();
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
