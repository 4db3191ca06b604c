// SQL for roles, implied roles and role assignments.
import type { Selectable } from 'kysely';
import type {
  AssignmentTable,
  AssignmentType as AssignmentColumn,
  RoleTable,
  IdentityExecutor,
} from './tables.ts';
import type { Assignment, AssignmentType, Role } from '../model.ts';
import { flag, parseJson, uniquely } from '../../platform/db/store-helpers.ts';

// The model's AssignmentType and the column's are one union: this fails to compile if they drift.
const sameAssignmentTypes: [AssignmentType, AssignmentColumn] extends [
  AssignmentColumn,
  AssignmentType,
]
  ? true
  : never = true;
void sameAssignmentTypes;

const toRole = (r: Selectable<RoleTable>): Role => ({
  id: r.id,
  name: r.name,
  domainId: r.domain_id === '' ? null : r.domain_id,
  description: r.description,
  options: parseJson(r.options, {}),
  extra: parseJson(r.extra, {}),
});
const toAssignment = (r: Selectable<AssignmentTable>): Assignment => ({
  type: r.type,
  actorId: r.actor_id,
  targetId: r.target_id,
  roleId: r.role_id,
  inherited: r.inherited === 1,
});

export async function insertRole(db: IdentityExecutor, r: Role): Promise<Role> {
  await uniquely(`Duplicate entry found with name ${r.name}.`, () =>
    db
      .insertInto('roles')
      .values({
        id: r.id,
        name: r.name,
        domain_id: r.domainId ?? '',
        description: r.description,
        options: JSON.stringify(r.options),
        extra: JSON.stringify(r.extra),
      })
      .execute(),
  );
  return r;
}

export async function getRole(db: IdentityExecutor, id: string): Promise<Role | undefined> {
  const r = await db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toRole(r);
}

export async function getRoleByName(
  db: IdentityExecutor,
  name: string,
  domainId: string | null,
): Promise<Role | undefined> {
  const r = await db
    .selectFrom('roles')
    .selectAll()
    .where('name', '=', name)
    .where('domain_id', '=', domainId ?? '')
    .executeTakeFirst();
  return r && toRole(r);
}

export async function listRoles(
  db: IdentityExecutor,
  f: { name?: string; domainId?: string | null; ids?: readonly string[] },
): Promise<Role[]> {
  let q = db.selectFrom('roles').selectAll().orderBy('name');
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.domainId !== undefined) q = q.where('domain_id', '=', f.domainId ?? '');
  if (f.ids) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', [...f.ids]);
  }
  return (await q.execute()).map(toRole);
}

export async function updateRole(db: IdentityExecutor, r: Role): Promise<Role> {
  await uniquely(`Duplicate entry found with name ${r.name}.`, () =>
    db
      .updateTable('roles')
      .set({
        name: r.name,
        description: r.description,
        options: JSON.stringify(r.options),
        extra: JSON.stringify(r.extra),
      })
      .where('id', '=', r.id)
      .execute(),
  );
  return r;
}

export async function deleteRole(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('roles').where('id', '=', id).execute();
}

export async function insertImplied(
  db: IdentityExecutor,
  priorId: string,
  impliedId: string,
): Promise<void> {
  await db
    .insertInto('implied_roles')
    .values({ prior_role_id: priorId, implied_role_id: impliedId })
    .onConflict((oc) => oc.columns(['prior_role_id', 'implied_role_id']).doNothing())
    .execute();
}

export async function deleteImplied(
  db: IdentityExecutor,
  priorId: string,
  impliedId: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('implied_roles')
    .where('prior_role_id', '=', priorId)
    .where('implied_role_id', '=', impliedId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listImplied(
  db: IdentityExecutor,
  priorId?: string,
): Promise<{ priorId: string; impliedId: string }[]> {
  let q = db.selectFrom('implied_roles').selectAll();
  if (priorId !== undefined) q = q.where('prior_role_id', '=', priorId);
  return (await q.execute()).map((r) => ({
    priorId: r.prior_role_id,
    impliedId: r.implied_role_id,
  }));
}

export async function insertAssignment(db: IdentityExecutor, a: Assignment): Promise<void> {
  await db
    .insertInto('assignments')
    .values({
      type: a.type,
      actor_id: a.actorId,
      target_id: a.targetId,
      role_id: a.roleId,
      inherited: flag(a.inherited),
    })
    .onConflict((oc) =>
      oc.columns(['type', 'actor_id', 'target_id', 'role_id', 'inherited']).doNothing(),
    )
    .execute();
}

export async function deleteAssignment(db: IdentityExecutor, a: Assignment): Promise<boolean> {
  const r = await db
    .deleteFrom('assignments')
    .where('type', '=', a.type)
    .where('actor_id', '=', a.actorId)
    .where('target_id', '=', a.targetId)
    .where('role_id', '=', a.roleId)
    .where('inherited', '=', flag(a.inherited))
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export interface AssignmentFilter {
  readonly types?: readonly AssignmentType[];
  readonly actorIds?: readonly string[];
  readonly targetIds?: readonly string[];
  readonly roleId?: string;
  readonly inherited?: boolean;
}

export async function listAssignments(
  db: IdentityExecutor,
  f: AssignmentFilter,
): Promise<Assignment[]> {
  let q = db.selectFrom('assignments').selectAll();
  if (f.types) {
    if (f.types.length === 0) return [];
    q = q.where('type', 'in', [...f.types]);
  }
  if (f.actorIds) {
    if (f.actorIds.length === 0) return [];
    q = q.where('actor_id', 'in', [...f.actorIds]);
  }
  if (f.targetIds) {
    if (f.targetIds.length === 0) return [];
    q = q.where('target_id', 'in', [...f.targetIds]);
  }
  if (f.roleId !== undefined) q = q.where('role_id', '=', f.roleId);
  if (f.inherited !== undefined) q = q.where('inherited', '=', flag(f.inherited));
  return (await q.execute()).map(toAssignment);
}

/** Removes every assignment naming `id` as actor or target (user, group, project or domain deleted). */
export async function deleteAssignmentsOf(db: IdentityExecutor, id: string): Promise<void> {
  await db
    .deleteFrom('assignments')
    .where((eb) => eb.or([eb('actor_id', '=', id), eb('target_id', '=', id)]))
    .execute();
}
