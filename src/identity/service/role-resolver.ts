// Computes a user's effective roles on a scope: direct and group assignments, assignments
// inherited from the domain and parent projects, then implied roles, transitively.
import type { DbHandle } from '../../platform/db/database.ts';
import * as users from '../store/users.ts';
import * as roles from '../store/roles.ts';
import * as dirs from '../store/domains.ts';
import type { AppCredential, Project, Role } from '../model.ts';
import { SYSTEM_TARGET } from '../model.ts';

export type RoleScope =
  | { readonly kind: 'project'; readonly project: Project }
  | { readonly kind: 'domain'; readonly domainId: string }
  | { readonly kind: 'system' };

/** The ids of `project`'s ancestors, nearest first (bounded against a corrupt cycle). */
export async function ancestorIds(db: DbHandle, project: Project): Promise<string[]> {
  const out: string[] = [];
  let parent = project.parentId;
  while (parent && out.length < 32 && !out.includes(parent)) {
    out.push(parent);
    parent = (await dirs.getProject(db, parent))?.parentId ?? null;
  }
  return out;
}

/** Adds every role implied by `ids`, transitively (Keystone's implied roles). */
export async function withImplied(db: DbHandle, ids: ReadonlySet<string>): Promise<Set<string>> {
  const all = new Set(ids);
  if (all.size === 0) return all;
  const rules = await roles.listImplied(db);
  if (rules.length === 0) return all;
  let grew = true;
  while (grew) {
    grew = false;
    for (const r of rules) {
      if (all.has(r.priorId) && !all.has(r.impliedId)) {
        all.add(r.impliedId);
        grew = true;
      }
    }
  }
  return all;
}

/** Role ids directly assigned (without implied ones) to the user on the scope. */
export async function assignedRoleIds(
  db: DbHandle,
  userId: string,
  scope: RoleScope,
): Promise<Set<string>> {
  const actors = [userId, ...(await users.groupIdsOfUser(db, userId))];
  const found = new Set<string>();
  if (scope.kind === 'project') {
    const direct = await roles.listAssignments(db, {
      types: ['UserProject', 'GroupProject'],
      actorIds: actors,
      targetIds: [scope.project.id],
      inherited: false,
    });
    const inherited = await roles.listAssignments(db, {
      actorIds: actors,
      targetIds: [scope.project.domainId, ...(await ancestorIds(db, scope.project))],
      inherited: true,
    });
    for (const a of [...direct, ...inherited]) found.add(a.roleId);
  } else if (scope.kind === 'domain') {
    for (const a of await roles.listAssignments(db, {
      types: ['UserDomain', 'GroupDomain'],
      actorIds: actors,
      targetIds: [scope.domainId],
      inherited: false,
    }))
      found.add(a.roleId);
  } else {
    for (const a of await roles.listAssignments(db, {
      types: ['UserSystem', 'GroupSystem'],
      actorIds: actors,
      targetIds: [SYSTEM_TARGET],
    }))
      found.add(a.roleId);
  }
  return found;
}

/** Effective roles of the user on the scope, implied roles included, sorted by name. */
export async function effectiveRoles(
  db: DbHandle,
  userId: string,
  scope: RoleScope,
): Promise<Role[]> {
  const ids = await withImplied(db, await assignedRoleIds(db, userId, scope));
  if (ids.size === 0) return [];
  return roles.listRoles(db, { ids: [...ids] });
}

/**
 * The roles a token from `appCred` carries: those it names that the user still holds (`held` are
 * the user's effective roles on the credential's project), plus the roles they imply, so that a
 * credential delegating `member` reads as a member's password token does.
 */
export async function delegatedRoles<R extends { readonly id: string }>(
  db: DbHandle,
  held: readonly R[],
  appCred: Pick<AppCredential, 'roles'>,
): Promise<R[]> {
  const heldIds = new Set(held.map((r) => r.id));
  const named = new Set(appCred.roles.map((r) => r.id).filter((id) => heldIds.has(id)));
  const allowed = await withImplied(db, named);
  return held.filter((r) => allowed.has(r.id));
}
