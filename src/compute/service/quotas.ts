// Compute quotas, as Nova keeps them: per-project limits (defaults unless an admin set one), usage
// counted from what exists, `quota show/set` and `limits show`. Enforcement at server create uses
// `check` (issue 5's build path).
import { inTransaction, type DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest } from '../../platform/errors.ts';
import * as quotas from '../store/quotas.ts';
import * as keypairs from '../store/keypairs.ts';

/** Nova's quota resources and their defaults ([quota] in nova.conf); -1 is unlimited. */
export const QUOTA_DEFAULTS = {
  instances: 10,
  cores: 20,
  ram: 51200,
  key_pairs: 100,
  metadata_items: 128,
  server_groups: 10,
  server_group_members: 10,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
} as const;
export type QuotaResource = keyof typeof QUOTA_DEFAULTS;
export const QUOTA_RESOURCES = Object.keys(QUOTA_DEFAULTS) as QuotaResource[];

export type QuotaSet = Record<QuotaResource, number>;

export function createQuotaService(deps: { db: DbHandle; policy: Policy }) {
  const { db, policy } = deps;

  async function limitsOf(projectId: string, ex: DbHandle = db): Promise<QuotaSet> {
    return { ...QUOTA_DEFAULTS, ...(await quotas.projectLimits(ex, projectId)) } as QuotaSet;
  }

  async function usageOf(projectId: string, userId: string, ex: DbHandle = db): Promise<QuotaSet> {
    const u = await quotas.projectUsage(ex, projectId);
    const zero = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, 0])) as QuotaSet;
    return {
      ...zero,
      instances: u.instances,
      cores: u.cores,
      ram: u.ram,
      key_pairs: await keypairs.countKeypairs(ex, userId),
    };
  }

  return {
    limitsOf,
    usageOf,
    /**
     * Runs `work` in a transaction holding the quota lock of `key` (a project id, or `user:<id>`
     * for key pairs): usage read through the handle it gets includes every create committed
     * before, and none of the same key can commit meanwhile, on any api replica.
     */
    withLock<T>(key: string, work: (trx: DbHandle) => Promise<T>): Promise<T> {
      return inTransaction(db, async (trx) => {
        await quotas.lockQuota(trx, key);
        return work(trx);
      });
    },

    async show(ctx: AuthContext, projectId: string): Promise<QuotaSet> {
      policy.enforce('os_compute_api:os-quota-sets:show', ctx.credentials, {
        project_id: projectId,
      });
      return limitsOf(projectId);
    },

    async detail(
      ctx: AuthContext,
      projectId: string,
    ): Promise<{ limits: QuotaSet; usage: QuotaSet }> {
      policy.enforce('os_compute_api:os-quota-sets:detail', ctx.credentials, {
        project_id: projectId,
      });
      return { limits: await limitsOf(projectId), usage: await usageOf(projectId, ctx.user.id) };
    },

    defaults(ctx: AuthContext): QuotaSet {
      policy.enforce('os_compute_api:os-quota-sets:defaults', ctx.credentials, {});
      return { ...QUOTA_DEFAULTS };
    },

    /** Sets limits; below what the project uses is refused unless `force`, as in Nova. */
    async update(
      ctx: AuthContext,
      projectId: string,
      changes: Partial<QuotaSet>,
      force: boolean,
    ): Promise<QuotaSet> {
      policy.enforce('os_compute_api:os-quota-sets:update', ctx.credentials, {
        project_id: projectId,
      });
      if (!force) {
        const used = await usageOf(projectId, ctx.user.id);
        for (const [r, v] of Object.entries(changes) as [QuotaResource, number][]) {
          if (v !== -1 && v < used[r])
            throw new BadRequest(
              `Quota limit ${v} for ${r} must be greater than or equal to already used and reserved ${used[r]}.`,
              'quota_below_usage',
            );
        }
      }
      await quotas.setProjectLimits(db, projectId, changes);
      return limitsOf(projectId);
    },

    async reset(ctx: AuthContext, projectId: string): Promise<void> {
      policy.enforce('os_compute_api:os-quota-sets:delete', ctx.credentials, {
        project_id: projectId,
      });
      await quotas.clearProjectLimits(db, projectId);
    },

    /** GET /limits: the caller's project (or another's, for admins) with what it uses. */
    async limits(
      ctx: AuthContext,
      otherProject: string | undefined,
    ): Promise<{ limits: QuotaSet; usage: QuotaSet }> {
      policy.enforce('os_compute_api:limits', ctx.credentials, {});
      const own = ctx.scope.kind === 'project' ? ctx.scope.project.id : undefined;
      const projectId = otherProject ?? own;
      if (otherProject !== undefined && otherProject !== own)
        policy.enforce('os_compute_api:limits:other_project', ctx.credentials, {
          project_id: otherProject,
        });
      if (projectId === undefined)
        throw new BadRequest(
          'Limits are per project: use a project-scoped token.',
          'quota_needs_project',
        );
      return { limits: await limitsOf(projectId), usage: await usageOf(projectId, ctx.user.id) };
    },
  };
}

export type QuotaService = ReturnType<typeof createQuotaService>;
