// Use cases for flavors: the catalogue of instance sizes. Admins create and delete them, set
// extra specs and open private flavors to projects; everyone lists what they may use.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, Conflict, NotFound } from '../../platform/errors.ts';
import * as flavors from '../store/flavors.ts';
import type { Flavor, NewFlavor } from '../model.ts';

export type FlavorListQuery = Omit<flavors.FlavorQuery, 'project' | 'marker'> & { marker?: string };

export function createFlavorService(deps: { db: DbHandle; policy: Policy; now?: () => number }) {
  const { db, policy } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});
  const projectOf = (ctx: AuthContext) =>
    ctx.scope.kind === 'project' ? ctx.scope.project.id : null;

  /** The flavor if the caller may use it: public, admin, or a private flavor open to its project. */
  async function requireVisible(ctx: AuthContext, id: string): Promise<Flavor> {
    const f = await flavors.getFlavor(db, id);
    const project = projectOf(ctx);
    if (
      f &&
      (f.isPublic ||
        isAdmin(ctx) ||
        (project !== null && (await flavors.hasAccess(db, id, project))))
    )
      return f;
    throw new NotFound(`Flavor ${id} could not be found.`, 'flavor_not_found');
  }

  /** Whether the flavor is among those a user's list shows (listFlavors' 'usable' scope); admins list all. */
  async function listable(ctx: AuthContext, f: Flavor): Promise<boolean> {
    if (isAdmin(ctx)) return true;
    const project = projectOf(ctx);
    return (
      !f.disabled &&
      (f.isPublic || (project !== null && (await flavors.hasAccess(db, f.id, project))))
    );
  }

  async function requireFlavor(id: string): Promise<Flavor> {
    const f = await flavors.getFlavor(db, id);
    if (!f) throw new NotFound(`Flavor ${id} could not be found.`, 'flavor_not_found');
    return f;
  }

  return {
    requireVisible,

    async list(ctx: AuthContext, q: FlavorListQuery): Promise<Flavor[]> {
      policy.enforce('os_compute_api:flavors:index', ctx.credentials, {});
      let marker: Flavor | undefined;
      if (q.marker !== undefined) {
        marker = await flavors.getFlavor(db, q.marker);
        // A flavor the caller could not list is no marker: the same 400 as an unknown id, so that
        // paging tells nothing of another project's private flavors (as Nova's marker lookup,
        // which runs on the caller's own view of the flavors).
        if (!marker || !(await listable(ctx, marker)))
          throw new BadRequest(`marker [${q.marker}] not found`, 'flavor_bad_marker');
      }
      const { marker: _m, ...rest } = q;
      // Only admins reach the 'all' and 'private' scopes (api/flavor-body.ts); users always list what they may use.
      return flavors.listFlavors(db, {
        ...rest,
        scope: isAdmin(ctx) ? rest.scope : 'usable',
        project: projectOf(ctx),
        ...(marker ? { marker } : {}),
      });
    },

    get: requireVisible,

    async create(ctx: AuthContext, f: NewFlavor): Promise<Flavor> {
      policy.enforce('os_compute_api:os-flavor-manage:create', ctx.credentials, {});
      // Like Nova (bug 1209101), a private flavor is open to no project until access is added.
      return flavors.insertFlavor(db, f, now());
    },

    async setDescription(
      ctx: AuthContext,
      id: string,
      description: string | null,
    ): Promise<Flavor> {
      policy.enforce('os_compute_api:os-flavor-manage:update', ctx.credentials, {});
      await requireFlavor(id);
      await flavors.updateFlavorDescription(db, id, description);
      return requireFlavor(id);
    },

    async remove(ctx: AuthContext, id: string): Promise<void> {
      policy.enforce('os_compute_api:os-flavor-manage:delete', ctx.credentials, {});
      if (!(await flavors.deleteFlavor(db, id)))
        throw new NotFound(`Flavor ${id} could not be found.`, 'flavor_not_found');
    },

    async extraSpecs(ctx: AuthContext, id: string): Promise<Readonly<Record<string, string>>> {
      policy.enforce('os_compute_api:os-flavor-extra-specs:index', ctx.credentials, {});
      return (await requireVisible(ctx, id)).extraSpecs;
    },

    async extraSpec(ctx: AuthContext, id: string, key: string): Promise<string> {
      policy.enforce('os_compute_api:os-flavor-extra-specs:show', ctx.credentials, {});
      const v = (await requireVisible(ctx, id)).extraSpecs[key];
      if (v === undefined)
        throw new NotFound(
          `Flavor ${id} has no extra specs with key ${key}.`,
          'flavor_extra_spec_not_found',
        );
      return v;
    },

    async setExtraSpecs(
      ctx: AuthContext,
      id: string,
      specs: Readonly<Record<string, string>>,
      action: 'create' | 'update',
    ): Promise<void> {
      policy.enforce(`os_compute_api:os-flavor-extra-specs:${action}`, ctx.credentials, {});
      await requireFlavor(id);
      await flavors.setExtraSpecs(db, id, specs);
    },

    async deleteExtraSpec(ctx: AuthContext, id: string, key: string): Promise<void> {
      policy.enforce('os_compute_api:os-flavor-extra-specs:delete', ctx.credentials, {});
      await requireFlavor(id);
      if (!(await flavors.deleteExtraSpec(db, id, key)))
        throw new NotFound(
          `Flavor ${id} has no extra specs with key ${key}.`,
          'flavor_extra_spec_not_found',
        );
    },

    async access(ctx: AuthContext, id: string): Promise<string[]> {
      policy.enforce('os_compute_api:os-flavor-access', ctx.credentials, {});
      const f = await requireFlavor(id);
      if (f.isPublic)
        throw new NotFound('Access list not available for public flavors.', 'flavor_public');
      return flavors.listAccess(db, id);
    },

    async addAccess(
      ctx: AuthContext,
      id: string,
      project: string,
      refusePublic: boolean,
    ): Promise<string[]> {
      policy.enforce('os_compute_api:os-flavor-access:add_tenant_access', ctx.credentials, {});
      const f = await requireFlavor(id);
      // Nova refuses access to a public flavor only from microversion 2.7; before, it records it.
      if (f.isPublic && refusePublic)
        throw new Conflict('Can not add access to a public flavor.', 'flavor_public');
      await flavors.addAccess(db, id, project);
      return flavors.listAccess(db, id);
    },

    async removeAccess(ctx: AuthContext, id: string, project: string): Promise<string[]> {
      policy.enforce('os_compute_api:os-flavor-access:remove_tenant_access', ctx.credentials, {});
      await requireFlavor(id);
      if (!(await flavors.removeAccess(db, id, project)))
        throw new NotFound(
          `Flavor access not found for ${id} / ${project} combination.`,
          'flavor_access_not_found',
        );
      return flavors.listAccess(db, id);
    },
  };
}

export type FlavorService = ReturnType<typeof createFlavorService>;
