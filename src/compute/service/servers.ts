// Use cases for servers: list and show with Nova's visibility rules, update, metadata, and delete;
// create (validation, quota, insertion) lives in server-create.ts and actions in server-actions.ts.
// Scheduling and host work go through the lifecycle (lifecycle.ts).
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Logger } from '../../platform/log.ts';
import { BadRequest, Forbidden, NotFound, Conflict } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as actions from '../store/instance-actions.ts';
import type { Instance } from '../model.ts';
import type { QuotaService } from './quotas.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { ImagePort } from './ports.ts';
import { createServerCreation } from './server-create.ts';

export { sanitizeHostname, type ServerCreate } from './server-create.ts';
export type { InstanceQuery, SortColumn } from '../store/instances.ts';

export interface ServerListQuery extends Omit<
  instances.InstanceQuery,
  'projectId' | 'marker' | 'limit'
> {
  readonly allProjects: boolean;
  readonly projectId?: string;
  readonly marker?: string;
  readonly limit: number;
}

const instanceTarget = (i: Instance) => ({ project_id: i.projectId, user_id: i.userId });

export function createServerService(deps: {
  db: DbHandle;
  policy: Policy;
  quotas: QuotaService;
  lifecycle: Lifecycle;
  images: ImagePort;
  log: Logger;
  now?: () => number;
}) {
  const { db, policy, quotas, lifecycle } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});

  /** The server if the caller may see it: its own project's, or any for admins (404 otherwise, as Nova). */
  async function visible(
    ctx: AuthContext,
    id: string,
    rule = 'os_compute_api:servers:show',
  ): Promise<Instance> {
    const i = await instances.getInstance(db, id);
    const own = ctx.scope.kind === 'project' && i?.projectId === ctx.scope.project.id;
    if (!i || (!own && !isAdmin(ctx)))
      throw new NotFound(`Instance ${id} could not be found.`, 'instance_not_found');
    policy.enforce(rule, ctx.credentials, instanceTarget(i));
    return i;
  }

  return {
    visible,
    instanceTarget,
    ...createServerCreation(deps),

    get: (ctx: AuthContext, id: string) => visible(ctx, id),

    async list(ctx: AuthContext, q: ServerListQuery, detail: boolean): Promise<Instance[]> {
      const own = ctx.scope.kind === 'project' ? ctx.scope.project.id : undefined;
      policy.enforce(
        detail ? 'os_compute_api:servers:detail' : 'os_compute_api:servers:index',
        ctx.credentials,
        { project_id: own ?? '' },
      );
      let projectId: string | undefined = own;
      if (q.allProjects) {
        policy.enforce(
          detail
            ? 'os_compute_api:servers:detail:get_all_tenants'
            : 'os_compute_api:servers:index:get_all_tenants',
          ctx.credentials,
          {},
        );
        projectId = q.projectId;
      } else if (q.projectId !== undefined && q.projectId !== own) {
        // Nova ignores another project's id unless all_tenants is given.
        projectId = own;
      }
      if (projectId === undefined && !q.allProjects)
        throw new Forbidden(
          'Listing servers needs a project-scoped token (or all_tenants for admins).',
          'servers_need_project',
        );
      let marker: Instance | undefined;
      if (q.marker !== undefined) {
        marker = await instances.getInstance(db, q.marker, { withDeleted: true });
        if (!marker || (projectId !== undefined && marker.projectId !== projectId))
          throw new BadRequest(`marker [${q.marker}] not found`, 'servers_bad_marker');
      }
      try {
        const { marker: _m, allProjects: _a, projectId: _p, ...filters } = q;
        return await instances.listInstances(db, {
          ...filters,
          ...(projectId !== undefined ? { projectId } : {}),
          ...(marker ? { marker } : {}),
        });
      } catch (e) {
        // PostgreSQL refuses a regular expression JavaScript accepted.
        if ((e as { code?: string }).code === '2201B')
          throw new BadRequest(
            `Invalid regular expression in the name filter: ${(e as Error).message}`,
            'servers_bad_filter',
          );
        throw e;
      }
    },

    async update(
      ctx: AuthContext,
      id: string,
      u: {
        name?: string;
        description?: string | null;
        hostname?: string;
        accessIpv4?: string | null;
        accessIpv6?: string | null;
      },
    ): Promise<Instance> {
      const i = await visible(ctx, id, 'os_compute_api:servers:update');
      const t = await instances.updateInstance(
        db,
        i.id,
        {
          ...(u.name !== undefined ? { name: u.name } : {}),
          ...(u.description !== undefined ? { description: u.description } : {}),
          ...(u.hostname !== undefined ? { hostname: u.hostname } : {}),
          ...(u.accessIpv4 !== undefined ? { access_ipv4: u.accessIpv4 } : {}),
          ...(u.accessIpv6 !== undefined ? { access_ipv6: u.accessIpv6 } : {}),
        },
        now(),
      );
      if (!t) throw new NotFound(`Instance ${id} could not be found.`, 'instance_not_found');
      return t;
    },

    /** Server metadata: replace all, merge, set one key, or delete one key. */
    async setMetadata(
      ctx: AuthContext,
      id: string,
      change: { replace?: Record<string, string>; merge?: Record<string, string>; remove?: string },
      create = false,
    ): Promise<Instance> {
      const rule =
        change.remove !== undefined
          ? 'delete'
          : change.replace
            ? 'update_all'
            : create
              ? 'create'
              : 'update';
      const i = await visible(ctx, id, `os_compute_api:server-metadata:${rule}`);
      if (i.lockedBy !== null && !isAdmin(ctx))
        throw new Conflict(`Instance ${i.id} is locked`, 'instance_locked');
      let meta: Record<string, string> = change.replace
        ? { ...change.replace }
        : { ...i.metadata, ...change.merge };
      if (change.remove !== undefined) {
        if (!(change.remove in i.metadata))
          throw new NotFound(`Metadata item was not found: ${change.remove}`, 'metadata_not_found');
        meta = { ...i.metadata };
        delete meta[change.remove];
      }
      const limit = (await quotas.limitsOf(i.projectId)).metadata_items;
      if (limit >= 0 && Object.keys(meta).length > limit)
        throw new Forbidden(
          `Quota exceeded for metadata_items: at most ${limit} metadata items per server.`,
          'quota_exceeded',
        );
      return (await instances.updateInstance(db, i.id, { metadata: JSON.stringify(meta) }, now()))!;
    },

    async remove(ctx: AuthContext, id: string, requestId: string): Promise<void> {
      const i = await visible(ctx, id, 'os_compute_api:servers:delete');
      if (i.lockedBy !== null && !isAdmin(ctx))
        throw new Conflict(`Instance ${i.id} is locked`, 'instance_locked');
      // A delete asked again (its first cast lost, its host gone) is sent again.
      if (i.taskState === 'deleting') {
        await lifecycle.destroy(i, null);
        return;
      }
      const deleting = await instances.transition(db, i.id, 'delete', {}, now());
      if (!deleting) return;
      const actionId = crypto.randomUUID();
      await actions.startActions(db, [
        {
          id: actionId,
          instanceId: i.id,
          requestId,
          action: 'delete',
          projectId: i.projectId,
          userId: ctx.user.id,
          startTime: now(),
        },
      ]);
      lifecycle.noteStart(deleting, 'delete', requestId);
      await lifecycle.destroy(deleting, actionId);
    },
  };
}

export type ServerService = ReturnType<typeof createServerService>;
