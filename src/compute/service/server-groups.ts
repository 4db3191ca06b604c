// Use cases for server groups (os-server-groups): a named policy (affinity, anti-affinity and the
// soft kinds) that the scheduler applies to the group's members; quota on groups per project.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { Forbidden, NotFound } from '../../platform/errors.ts';
import * as groups from '../store/server-groups.ts';
import type { GroupPolicy } from '../scheduler/host-selection.ts';
import type { QuotaService } from './quotas.ts';

export type { ServerGroup } from '../store/server-groups.ts';

export function createServerGroupService(deps: {
  db: DbHandle;
  policy: Policy;
  quotas: QuotaService;
  now?: () => number;
}) {
  const { db, policy, quotas } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});

  async function visible(ctx: AuthContext, id: string, rule: string): Promise<groups.ServerGroup> {
    const g = await groups.getGroup(db, id);
    const own = ctx.scope.kind === 'project' && g?.projectId === ctx.scope.project.id;
    if (!g || (!own && !isAdmin(ctx)))
      throw new NotFound(`Instance group ${id} could not be found.`, 'server_group_not_found');
    policy.enforce(rule, ctx.credentials, { project_id: g.projectId, user_id: g.userId });
    return g;
  }

  return {
    async create(
      ctx: AuthContext,
      g: { name: string; policy: GroupPolicy; rules: { max_server_per_host?: number } },
    ): Promise<groups.ServerGroup> {
      if (ctx.scope.kind !== 'project')
        throw new Forbidden(
          'Server groups belong to projects: use a project-scoped token.',
          'server_groups_need_project',
        );
      const projectId = ctx.scope.project.id;
      policy.enforce('os_compute_api:os-server-groups:create', ctx.credentials, {
        project_id: projectId,
        user_id: ctx.user.id,
      });
      const id = crypto.randomUUID();
      await quotas.withLock(projectId, async (trx) => {
        const limit = (await quotas.limitsOf(projectId, trx)).server_groups;
        if (limit >= 0 && (await groups.countGroups(trx, projectId)) >= limit) {
          throw new Forbidden(
            `Quota exceeded, too many server groups: at most ${limit} per project.`,
            'quota_exceeded',
          );
        }
        await groups.insertGroup(trx, {
          id,
          name: g.name,
          projectId,
          userId: ctx.user.id,
          policy: g.policy,
          rules: g.rules,
          createdAt: now(),
        });
      });
      return (await groups.getGroup(db, id))!;
    },

    get: (ctx: AuthContext, id: string) => visible(ctx, id, 'os_compute_api:os-server-groups:show'),

    async list(
      ctx: AuthContext,
      q: { allProjects: boolean; limit: number; offset: number },
    ): Promise<groups.ServerGroup[]> {
      const own = ctx.scope.kind === 'project' ? ctx.scope.project.id : undefined;
      policy.enforce('os_compute_api:os-server-groups:index', ctx.credentials, {
        project_id: own ?? '',
      });
      if (q.allProjects)
        policy.enforce('os_compute_api:os-server-groups:index:all_projects', ctx.credentials, {});
      if (!q.allProjects && own === undefined) return [];
      return groups.listGroups(db, {
        ...(q.allProjects ? {} : { projectId: own! }),
        limit: q.limit,
        offset: q.offset,
      });
    },

    async remove(ctx: AuthContext, id: string): Promise<void> {
      const g = await visible(ctx, id, 'os_compute_api:os-server-groups:delete');
      await groups.deleteGroup(db, g.id);
    },

    /** The groups an instance is in (0 or 1), for the server view from 2.71. */
    async groupsOf(instanceId: string): Promise<string[]> {
      const g = await groups.groupOf(db, instanceId);
      return g === undefined ? [] : [g];
    },
  };
}

export type ServerGroupService = ReturnType<typeof createServerGroupService>;
