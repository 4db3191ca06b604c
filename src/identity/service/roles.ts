// Use cases for roles, implied roles and grants (role assignments on projects, domains and the
// system, optionally inherited to projects).
import type { DbHandle } from '../../platform/db/database.ts';
import * as roles from '../store/roles.ts';
import type { Assignment, AssignmentType, Extra, Role } from '../model.ts';
import { SYSTEM_TARGET } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, Conflict, Forbidden, NotFound } from '../../platform/errors.ts';
import { hexId } from '../../platform/ids.ts';
import { defined, type DirectoryServiceApi } from './directory.ts';
import type { AssignmentFacts, IdentityNotifications } from './notifications.ts';

export type GrantTarget =
  { readonly kind: 'project' | 'domain'; readonly id: string } | { readonly kind: 'system' };
export type GrantActor = { readonly kind: 'user' | 'group'; readonly id: string };
export interface Grant {
  readonly actor: GrantActor;
  readonly target: GrantTarget;
  readonly roleId: string;
  readonly inherited: boolean;
}

export function assignmentType(actor: GrantActor, target: GrantTarget): AssignmentType {
  const a = actor.kind === 'user' ? 'User' : 'Group';
  const t = target.kind === 'project' ? 'Project' : target.kind === 'domain' ? 'Domain' : 'System';
  return `${a}${t}` as AssignmentType;
}

export function createRoleService(deps: {
  db: DbHandle;
  policy: Policy;
  directory: DirectoryServiceApi;
  notifications: IdentityNotifications;
}) {
  const { db, policy, directory, notifications } = deps;
  const enforce = (ctx: AuthContext, action: string, target: Record<string, unknown> = {}) =>
    policy.enforce(action, ctx.credentials, target);

  async function requireRole(id: string): Promise<Role> {
    const r = await roles.getRole(db, id);
    if (!r) throw new NotFound(`Could not find role: ${id}.`, 'role_not_found');
    return r;
  }

  /** Checks the grant's parts exist and fit together; returns the target's domain for policy. */
  async function checkGrant(g: Grant): Promise<{ domainId: string | null; role: Role }> {
    const role = await requireRole(g.roleId);
    if (g.actor.kind === 'user') await directory.requireUser(g.actor.id);
    else await directory.requireGroup(g.actor.id);
    let domainId: string | null = null;
    if (g.target.kind === 'project')
      domainId = (await directory.requireProject(g.target.id)).domainId;
    else if (g.target.kind === 'domain') domainId = (await directory.requireDomain(g.target.id)).id;
    if (role.domainId !== null && role.domainId !== domainId) {
      throw new Forbidden(
        `Role ${role.id} belongs to domain ${role.domainId} and can only be granted on that domain or its projects.`,
      );
    }
    if (g.inherited && g.target.kind === 'system')
      throw new BadRequest('System role assignments cannot be inherited.');
    return { domainId, role };
  }

  const toAssignment = (g: Grant): Assignment => ({
    type: assignmentType(g.actor, g.target),
    actorId: g.actor.id,
    targetId: g.target.kind === 'system' ? SYSTEM_TARGET : g.target.id,
    roleId: g.roleId,
    inherited: g.inherited,
  });

  return {
    requireRole,
    async listRoles(
      ctx: AuthContext,
      f: { name?: string; domainId?: string | null },
    ): Promise<Role[]> {
      enforce(ctx, 'identity:list_roles', {
        target: { domain_id: f.domainId ?? null },
        domain_id: f.domainId ?? null,
      });
      return roles.listRoles(db, { ...f, domainId: f.domainId ?? null });
    },
    async getRole(ctx: AuthContext, id: string): Promise<Role> {
      const r = await roles.getRole(db, id);
      enforce(ctx, 'identity:get_role', { target: { domain_id: r?.domainId ?? null } });
      if (!r) throw new NotFound(`Could not find role: ${id}.`, 'role_not_found');
      return r;
    },
    async createRole(
      ctx: AuthContext,
      input: {
        name: string;
        domainId?: string | null;
        description?: string;
        options?: Extra;
        extra: Extra;
      },
    ): Promise<Role> {
      enforce(ctx, 'identity:create_role', { target: { domain_id: input.domainId ?? null } });
      if (input.domainId)
        await directory.requireDomain(input.domainId).catch(() => {
          throw new BadRequest(`Could not find domain: ${input.domainId}.`);
        });
      const created = await roles.insertRole(db, {
        id: hexId(),
        name: input.name,
        domainId: input.domainId ?? null,
        description: input.description ?? '',
        options: input.options ?? {},
        extra: input.extra,
      });
      await notifications.resource('role', 'created', created.id);
      return created;
    },
    async updateRole(
      ctx: AuthContext,
      id: string,
      p: {
        name?: string;
        description?: string;
        options?: Extra;
        domainId?: string | null;
        extra: Extra;
      },
    ): Promise<Role> {
      enforce(ctx, 'identity:update_role');
      const cur = await requireRole(id);
      if (p.domainId !== undefined && p.domainId !== cur.domainId)
        throw new BadRequest('Update of `domain_id` is not allowed.');
      if (cur.options['immutable'] === true && p.options?.['immutable'] !== false)
        throw new Forbidden(`Role ${id} is immutable; unset the immutable option first.`);
      const updated = await roles.updateRole(db, {
        ...cur,
        ...defined({ name: p.name, description: p.description, options: p.options }),
        extra: { ...cur.extra, ...p.extra },
      });
      await notifications.resource('role', 'updated', id);
      return updated;
    },
    async deleteRole(ctx: AuthContext, id: string): Promise<void> {
      enforce(ctx, 'identity:delete_role');
      const cur = await requireRole(id);
      if (cur.options['immutable'] === true)
        throw new Forbidden(`Role ${id} is immutable; unset the immutable option first.`);
      await roles.deleteRole(db, id);
      await notifications.resource('role', 'deleted', id);
    },

    async createImplied(
      ctx: AuthContext,
      priorId: string,
      impliedId: string,
    ): Promise<{ prior: Role; implied: Role }> {
      enforce(ctx, 'identity:create_implied_role');
      const prior = await requireRole(priorId);
      const implied = await requireRole(impliedId);
      if (priorId === impliedId) throw new BadRequest('A role cannot imply itself.');
      if (implied.name === 'admin')
        throw new Forbidden('The admin role cannot be implied by another role.');
      // Reject cycles: the new rule must not make the prior reachable from the implied role.
      const rules = await roles.listImplied(db);
      const reach = new Set([impliedId]);
      for (let grew = true; grew;) {
        grew = false;
        for (const r of rules)
          if (reach.has(r.priorId) && !reach.has(r.impliedId)) {
            reach.add(r.impliedId);
            grew = true;
          }
      }
      if (reach.has(priorId))
        throw new Conflict(`Role ${impliedId} already implies ${priorId}; a cycle is not allowed.`);
      await roles.insertImplied(db, priorId, impliedId);
      return { prior, implied };
    },
    async deleteImplied(ctx: AuthContext, priorId: string, impliedId: string): Promise<void> {
      enforce(ctx, 'identity:delete_implied_role');
      if (!(await roles.deleteImplied(db, priorId, impliedId)))
        throw new NotFound(`Role ${priorId} does not imply ${impliedId}.`);
    },
    async getImplied(
      ctx: AuthContext,
      priorId: string,
      impliedId: string,
    ): Promise<{ prior: Role; implied: Role }> {
      enforce(ctx, 'identity:get_implied_role');
      const rules = await roles.listImplied(db, priorId);
      if (!rules.some((r) => r.impliedId === impliedId))
        throw new NotFound(`Role ${priorId} does not imply ${impliedId}.`);
      return { prior: await requireRole(priorId), implied: await requireRole(impliedId) };
    },
    async listImplied(
      ctx: AuthContext,
      priorId?: string,
    ): Promise<{ prior: Role; implies: Role[] }[]> {
      enforce(ctx, priorId ? 'identity:list_implied_roles' : 'identity:list_role_inference_rules');
      if (priorId) await requireRole(priorId);
      const rules = await roles.listImplied(db, priorId);
      const all = new Map(
        (
          await roles.listRoles(db, {
            ids: [...new Set(rules.flatMap((r) => [r.priorId, r.impliedId]))],
          })
        ).map((r) => [r.id, r]),
      );
      const byPrior = new Map<string, Role[]>();
      for (const r of rules) {
        const implied = all.get(r.impliedId);
        if (implied) byPrior.set(r.priorId, [...(byPrior.get(r.priorId) ?? []), implied]);
      }
      if (priorId && !byPrior.has(priorId))
        return [{ prior: (await roles.getRole(db, priorId))!, implies: [] }];
      return [...byPrior].map(([id, implies]) => ({ prior: all.get(id)!, implies }));
    },

    async grant(ctx: AuthContext, g: Grant): Promise<void> {
      const { domainId } = await checkGrant(g);
      enforce(ctx, 'identity:create_grant', {
        target: { domain_id: domainId },
        domain_id: domainId,
      });
      await roles.insertAssignment(db, toAssignment(g));
      const facts = assignmentFacts(g);
      if (facts) await notifications.roleAssignment('created', ctx, facts);
    },
    async revoke(ctx: AuthContext, g: Grant): Promise<void> {
      const { domainId } = await checkGrant(g);
      enforce(ctx, 'identity:revoke_grant', {
        target: { domain_id: domainId },
        domain_id: domainId,
      });
      if (!(await roles.deleteAssignment(db, toAssignment(g)))) {
        throw new NotFound(
          `Could not find role assignment with role: ${g.roleId}, ${g.actor.kind}: ${g.actor.id}.`,
          'assignment_not_found',
        );
      }
      const facts = assignmentFacts(g);
      if (facts) await notifications.roleAssignment('deleted', ctx, facts);
    },
    async checkGrant(ctx: AuthContext, g: Grant): Promise<void> {
      const { domainId } = await checkGrant(g);
      enforce(ctx, 'identity:check_grant', {
        target: { domain_id: domainId },
        domain_id: domainId,
      });
      const found = await roles.listAssignments(db, {
        ...filterOf(toAssignment(g)),
        roleId: g.roleId,
      });
      if (found.length === 0)
        throw new NotFound(
          `Could not find role assignment with role: ${g.roleId}, ${g.actor.kind}: ${g.actor.id}.`,
          'assignment_not_found',
        );
    },
    async listGrants(
      ctx: AuthContext,
      actor: GrantActor,
      target: GrantTarget,
      inherited: boolean,
    ): Promise<Role[]> {
      if (actor.kind === 'user') await directory.requireUser(actor.id);
      else await directory.requireGroup(actor.id);
      let domainId: string | null = null;
      if (target.kind === 'project')
        domainId = (await directory.requireProject(target.id)).domainId;
      else if (target.kind === 'domain') domainId = (await directory.requireDomain(target.id)).id;
      enforce(ctx, 'identity:list_grants', {
        target: { domain_id: domainId },
        domain_id: domainId,
      });
      const found = await roles.listAssignments(
        db,
        filterOf(toAssignment({ actor, target, roleId: '', inherited })),
      );
      return roles.listRoles(db, { ids: found.map((a) => a.roleId) });
    },
  };
}

/** What a role assignment notification names; none for system grants, which Keystone does not announce. */
function assignmentFacts(g: Grant): AssignmentFacts | undefined {
  const t = g.target;
  if (t.kind === 'system') return undefined;
  return {
    roleId: g.roleId,
    actor: g.actor,
    target: { kind: t.kind, id: t.id },
    inherited: g.inherited,
  };
}

function filterOf(a: Assignment): roles.AssignmentFilter {
  return {
    types: [a.type],
    actorIds: [a.actorId],
    targetIds: [a.targetId],
    inherited: a.inherited,
  };
}

export type RoleServiceApi = ReturnType<typeof createRoleService>;
