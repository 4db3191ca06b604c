// The service catalog: regions, services and endpoints with policy, and the catalog document put
// in tokens (cached briefly; every replica rebuilds it within CACHE_MS of a change elsewhere).
import type { DbHandle } from '../../platform/db/database.ts';
import * as store from '../store/catalog.ts';
import type { CatalogService, Endpoint, Interface, Region } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, Conflict, NotFound } from '../../platform/errors.ts';
import { hexId } from '../../platform/ids.ts';
import type { IdentityNotifications } from './notifications.ts';

export interface CatalogEntry {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly endpoints: readonly {
    readonly id: string;
    readonly interface: Interface;
    readonly region: string | null;
    readonly region_id: string | null;
    readonly url: string;
  }[];
}

const CACHE_MS = 2000;
const INTERFACES: readonly string[] = ['public', 'internal', 'admin'];

export function createCatalogService(deps: {
  db: DbHandle;
  policy: Policy;
  notifications?: IdentityNotifications;
}) {
  const { db, policy } = deps;
  const announce = deps.notifications?.resource ?? (async () => undefined);
  let cached: { at: number; entries: readonly CatalogEntry[] } | undefined;
  const invalidate = () => {
    cached = undefined;
  };

  async function build(): Promise<readonly CatalogEntry[]> {
    const [services, endpoints] = await Promise.all([
      store.listServices(db, {}),
      store.listEndpoints(db, {}),
    ]);
    return services
      .filter((s) => s.enabled)
      .map((s) => ({
        id: s.id,
        type: s.type,
        name: s.name,
        endpoints: endpoints
          .filter((e) => e.serviceId === s.id && e.enabled)
          .map((e) => ({
            id: e.id,
            interface: e.interface,
            region: e.regionId,
            region_id: e.regionId,
            url: e.url,
          })),
      }));
  }

  function checkInterface(i: string): Interface {
    if (!INTERFACES.includes(i))
      throw new BadRequest(
        `Invalid input for field 'interface': ${JSON.stringify(i)} is not one of public, internal, admin.`,
      );
    return i as Interface;
  }

  async function requireRegion(id: string | null): Promise<void> {
    if (id !== null && !(await store.getRegion(db, id)))
      throw new BadRequest(`Could not find region: ${id}. Create the region first.`);
  }

  return {
    invalidate,
    async catalog(): Promise<readonly CatalogEntry[]> {
      const now = Date.now();
      if (!cached || now - cached.at > CACHE_MS) cached = { at: now, entries: await build() };
      return cached.entries;
    },

    async listRegions(ctx: AuthContext, f: { parentRegionId?: string }): Promise<Region[]> {
      policy.enforce('identity:list_regions', ctx.credentials);
      return store.listRegions(db, f);
    },
    async getRegion(ctx: AuthContext, id: string): Promise<Region> {
      policy.enforce('identity:get_region', ctx.credentials);
      const r = await store.getRegion(db, id);
      if (!r) throw new NotFound(`Could not find region: ${id}.`);
      return r;
    },
    async createRegion(
      ctx: AuthContext,
      r: {
        id?: string;
        description?: string;
        parentRegionId?: string | null;
        extra: Record<string, unknown>;
      },
    ): Promise<Region> {
      policy.enforce('identity:create_region', ctx.credentials);
      await requireRegion(r.parentRegionId ?? null);
      const region = await store.insertRegion(db, {
        id: r.id ?? hexId(),
        description: r.description ?? '',
        parentRegionId: r.parentRegionId ?? null,
        extra: r.extra,
      });
      invalidate();
      await announce('region', 'created', region.id);
      return region;
    },
    async updateRegion(
      ctx: AuthContext,
      id: string,
      p: { description?: string; parentRegionId?: string | null; extra: Record<string, unknown> },
    ): Promise<Region> {
      policy.enforce('identity:update_region', ctx.credentials);
      const cur = await store.getRegion(db, id);
      if (!cur) throw new NotFound(`Could not find region: ${id}.`);
      if (p.parentRegionId === id) throw new BadRequest('A region cannot be its own parent.');
      if (p.parentRegionId !== undefined) await requireRegion(p.parentRegionId);
      const updated = await store.updateRegion(db, {
        ...cur,
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.parentRegionId !== undefined ? { parentRegionId: p.parentRegionId } : {}),
        extra: { ...cur.extra, ...p.extra },
      });
      await announce('region', 'updated', id);
      return updated;
    },
    async deleteRegion(ctx: AuthContext, id: string): Promise<void> {
      policy.enforce('identity:delete_region', ctx.credentials);
      if (!(await store.getRegion(db, id))) throw new NotFound(`Could not find region: ${id}.`);
      if ((await store.listRegions(db, { parentRegionId: id })).length > 0)
        throw new Conflict(`Region ${id} has child regions; delete them first.`);
      if ((await store.listEndpoints(db, { regionId: id })).length > 0)
        throw new Conflict(`Region ${id} has endpoints; delete or move them first.`);
      await store.deleteRegion(db, id);
      invalidate();
      await announce('region', 'deleted', id);
    },

    async listServices(
      ctx: AuthContext,
      f: { type?: string; name?: string },
    ): Promise<CatalogService[]> {
      policy.enforce('identity:list_services', ctx.credentials);
      return store.listServices(db, f);
    },
    async getService(ctx: AuthContext, id: string): Promise<CatalogService> {
      policy.enforce('identity:get_service', ctx.credentials);
      const s = await store.getService(db, id);
      if (!s) throw new NotFound(`Could not find service: ${id}.`);
      return s;
    },
    async createService(ctx: AuthContext, s: Omit<CatalogService, 'id'>): Promise<CatalogService> {
      policy.enforce('identity:create_service', ctx.credentials);
      const created = await store.insertService(db, { ...s, id: hexId() });
      invalidate();
      await announce('service', 'created', created.id);
      return created;
    },
    async updateService(
      ctx: AuthContext,
      id: string,
      p: Partial<Omit<CatalogService, 'id'>>,
    ): Promise<CatalogService> {
      policy.enforce('identity:update_service', ctx.credentials);
      const cur = await store.getService(db, id);
      if (!cur) throw new NotFound(`Could not find service: ${id}.`);
      const updated = await store.updateService(db, {
        ...cur,
        ...p,
        extra: { ...cur.extra, ...(p.extra ?? {}) },
      });
      invalidate();
      await announce('service', 'updated', id);
      return updated;
    },
    async deleteService(ctx: AuthContext, id: string): Promise<void> {
      policy.enforce('identity:delete_service', ctx.credentials);
      if (!(await store.getService(db, id))) throw new NotFound(`Could not find service: ${id}.`);
      await store.deleteService(db, id);
      invalidate();
      await announce('service', 'deleted', id);
    },

    async listEndpoints(
      ctx: AuthContext,
      f: { serviceId?: string; interface?: string; regionId?: string },
    ): Promise<Endpoint[]> {
      policy.enforce('identity:list_endpoints', ctx.credentials);
      return store.listEndpoints(db, f);
    },
    async getEndpoint(ctx: AuthContext, id: string): Promise<Endpoint> {
      policy.enforce('identity:get_endpoint', ctx.credentials);
      const e = await store.getEndpoint(db, id);
      if (!e) throw new NotFound(`Could not find endpoint: ${id}.`);
      return e;
    },
    async createEndpoint(
      ctx: AuthContext,
      e: {
        serviceId: string;
        interface: string;
        regionId: string | null;
        url: string;
        enabled: boolean;
        extra: Record<string, unknown>;
      },
    ): Promise<Endpoint> {
      policy.enforce('identity:create_endpoint', ctx.credentials);
      if (!(await store.getService(db, e.serviceId)))
        throw new BadRequest(`Could not find service: ${e.serviceId}. Create the service first.`);
      await requireRegion(e.regionId);
      const created = await store.insertEndpoint(db, {
        ...e,
        id: hexId(),
        interface: checkInterface(e.interface),
      });
      invalidate();
      await announce('endpoint', 'created', created.id);
      return created;
    },
    async updateEndpoint(
      ctx: AuthContext,
      id: string,
      p: {
        serviceId?: string;
        interface?: string;
        regionId?: string | null;
        url?: string;
        enabled?: boolean;
        extra: Record<string, unknown>;
      },
    ): Promise<Endpoint> {
      policy.enforce('identity:update_endpoint', ctx.credentials);
      const cur = await store.getEndpoint(db, id);
      if (!cur) throw new NotFound(`Could not find endpoint: ${id}.`);
      if (p.serviceId !== undefined && !(await store.getService(db, p.serviceId)))
        throw new BadRequest(`Could not find service: ${p.serviceId}.`);
      if (p.regionId !== undefined) await requireRegion(p.regionId);
      const updated = await store.updateEndpoint(db, {
        ...cur,
        ...(p.serviceId !== undefined ? { serviceId: p.serviceId } : {}),
        ...(p.interface !== undefined ? { interface: checkInterface(p.interface) } : {}),
        ...(p.regionId !== undefined ? { regionId: p.regionId } : {}),
        ...(p.url !== undefined ? { url: p.url } : {}),
        ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
        extra: { ...cur.extra, ...p.extra },
      });
      invalidate();
      await announce('endpoint', 'updated', id);
      return updated;
    },
    async deleteEndpoint(ctx: AuthContext, id: string): Promise<void> {
      policy.enforce('identity:delete_endpoint', ctx.credentials);
      if (!(await store.getEndpoint(db, id))) throw new NotFound(`Could not find endpoint: ${id}.`);
      await store.deleteEndpoint(db, id);
      invalidate();
      await announce('endpoint', 'deleted', id);
    },
  };
}

export type CatalogServiceApi = ReturnType<typeof createCatalogService>;
