// GET /v3/role_assignments: lists assignments as stored, or effective ones (groups expanded to
// their users, inherited assignments expanded onto projects, implied roles added), with names.
import type { DbHandle } from '../../platform/db/database.ts';
import * as roles from '../store/roles.ts';
import * as users from '../store/users.ts';
import * as dirs from '../store/domains.ts';
import type { Assignment } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { descendants } from './directory.ts';
import { ancestorIds } from './role-resolver.ts';

export interface AssignmentQuery {
  readonly userId?: string;
  readonly groupId?: string;
  readonly roleId?: string;
  readonly projectId?: string;
  readonly domainId?: string;
  readonly system?: boolean;
  readonly inheritedToProjects?: boolean;
  readonly effective: boolean;
}

/** One listed assignment; `via` records how an effective one was derived (for the links). */
export interface ListedAssignment {
  readonly actor: { readonly kind: 'user' | 'group'; readonly id: string };
  readonly scope:
    { readonly kind: 'project' | 'domain'; readonly id: string } | { readonly kind: 'system' };
  readonly roleId: string;
  readonly inherited: boolean;
  readonly via: {
    readonly groupId?: string;
    readonly priorRoleId?: string;
    readonly source: Assignment;
  };
}

export interface NameBook {
  readonly users: ReadonlyMap<string, { name: string; domain: { id: string; name: string } }>;
  readonly groups: ReadonlyMap<string, { name: string; domain: { id: string; name: string } }>;
  readonly projects: ReadonlyMap<string, { name: string; domain: { id: string; name: string } }>;
  readonly domains: ReadonlyMap<string, string>;
  readonly roles: ReadonlyMap<string, { name: string; domainId: string | null }>;
}

const listed = (a: Assignment): ListedAssignment => ({
  actor: { kind: a.type.startsWith('User') ? 'user' : 'group', id: a.actorId },
  scope: a.type.endsWith('Project')
    ? { kind: 'project', id: a.targetId }
    : a.type.endsWith('Domain')
      ? { kind: 'domain', id: a.targetId }
      : { kind: 'system' },
  roleId: a.roleId,
  inherited: a.inherited,
  via: { source: a },
});

export function createAssignmentLister(deps: { db: DbHandle; policy: Policy }) {
  const { db, policy } = deps;

  async function expand(rows: readonly Assignment[]): Promise<ListedAssignment[]> {
    let out: ListedAssignment[] = [];
    for (const a of rows) {
      const base = listed(a);
      // Inherited assignments apply to the projects below their target, not to the target itself.
      let scopes: ListedAssignment['scope'][] = [base.scope];
      if (a.inherited && base.scope.kind !== 'system') {
        const below =
          base.scope.kind === 'domain'
            ? await dirs.listProjects(db, { domainId: base.scope.id })
            : await descendants(db, base.scope.id);
        scopes = below.map((p) => ({ kind: 'project', id: p.id }));
      }
      const actors =
        base.actor.kind === 'group'
          ? (await users.userIdsInGroup(db, base.actor.id)).map((id) => ({
              actor: { kind: 'user' as const, id },
              groupId: base.actor.id,
            }))
          : [{ actor: base.actor, groupId: undefined }];
      for (const scope of scopes)
        for (const { actor, groupId } of actors) {
          out.push({
            ...base,
            actor,
            scope,
            inherited: false,
            via: { source: a, ...(groupId ? { groupId } : {}) },
          });
        }
    }
    // Implied roles, transitively, each remembering the role that implied it.
    const rules = await roles.listImplied(db);
    if (rules.length > 0) {
      const extra: ListedAssignment[] = [];
      let frontier = out;
      for (let depth = 0; frontier.length > 0 && depth < 16; depth++) {
        const next: ListedAssignment[] = [];
        for (const l of frontier)
          for (const r of rules)
            if (r.priorId === l.roleId) {
              next.push({ ...l, roleId: r.impliedId, via: { ...l.via, priorRoleId: l.roleId } });
            }
        extra.push(...next);
        frontier = next;
      }
      out = [...out, ...extra];
    }
    return out;
  }

  return {
    /** Names of everything a listing mentions, for include_names (one query per kind). */
    async names(list: readonly ListedAssignment[]): Promise<NameBook> {
      const ids = (pick: (l: ListedAssignment) => string | undefined) => [
        ...new Set(list.map(pick).filter((x): x is string => x !== undefined)),
      ];
      const us = await users.listUsers(db, {
        ids: ids((l) => (l.actor.kind === 'user' ? l.actor.id : undefined)),
      });
      const gs = await users.listGroups(db, {
        ids: ids((l) => (l.actor.kind === 'group' ? l.actor.id : undefined)),
      });
      const ps = await dirs.listProjects(db, {
        ids: ids((l) => (l.scope.kind === 'project' ? l.scope.id : undefined)),
      });
      const rs = await roles.listRoles(db, { ids: ids((l) => l.roleId) });
      const domainIds = new Set([...us, ...gs, ...ps].map((x) => x.domainId));
      for (const l of list) if (l.scope.kind === 'domain') domainIds.add(l.scope.id);
      for (const r of rs) if (r.domainId) domainIds.add(r.domainId);
      const domains = new Map(
        (await dirs.listDomains(db, { ids: [...domainIds] })).map((d) => [d.id, d.name]),
      );
      const withDomain = (x: { id: string; name: string; domainId: string }) =>
        [
          x.id,
          { name: x.name, domain: { id: x.domainId, name: domains.get(x.domainId) ?? '' } },
        ] as const;
      return {
        users: new Map(us.map(withDomain)),
        groups: new Map(gs.map(withDomain)),
        projects: new Map(ps.map(withDomain)),
        domains,
        roles: new Map(rs.map((r) => [r.id, { name: r.name, domainId: r.domainId }])),
      };
    },
    async list(ctx: AuthContext, q: AssignmentQuery): Promise<ListedAssignment[]> {
      policy.enforce('identity:list_role_assignments', ctx.credentials, {
        target: { domain_id: q.domainId ?? null },
        domain_id: q.domainId ?? null,
      });
      let actorIds: string[] | undefined;
      let targetIds: string[] | undefined;
      if (q.effective) {
        if (q.userId) actorIds = [q.userId, ...(await users.groupIdsOfUser(db, q.userId))];
        if (q.projectId) {
          const p = await dirs.getProject(db, q.projectId);
          targetIds = p ? [p.id, p.domainId, ...(await ancestorIds(db, p))] : [];
        }
      } else {
        if (q.userId || q.groupId) actorIds = [q.userId ?? q.groupId!];
        if (q.projectId || q.domainId) targetIds = [q.projectId ?? q.domainId!];
      }
      if (q.system) targetIds = ['system'];
      const rows = await roles.listAssignments(db, {
        ...(actorIds ? { actorIds } : {}),
        ...(targetIds ? { targetIds } : {}),
        ...(!q.effective && q.roleId ? { roleId: q.roleId } : {}),
        ...(!q.effective && q.inheritedToProjects !== undefined
          ? { inherited: q.inheritedToProjects }
          : {}),
      });
      const all = q.effective ? await expand(rows) : rows.map(listed);
      return all.filter(
        (l) =>
          (!q.userId || (l.actor.kind === 'user' && l.actor.id === q.userId)) &&
          (!q.groupId || (l.actor.kind === 'group' && l.actor.id === q.groupId)) &&
          (!q.roleId || l.roleId === q.roleId) &&
          (!q.projectId || (l.scope.kind === 'project' && l.scope.id === q.projectId)) &&
          (!q.domainId || (l.scope.kind === 'domain' && l.scope.id === q.domainId)) &&
          (!q.system || l.scope.kind === 'system'),
      );
    },
  };
}

export type AssignmentListerApi = ReturnType<typeof createAssignmentLister>;
