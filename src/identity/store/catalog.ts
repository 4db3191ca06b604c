// SQL for regions, services and endpoints (the service catalog).
import type { Selectable } from 'kysely';
import type { EndpointTable, RegionTable, ServiceTable, IdentityExecutor } from './tables.ts';
import type { CatalogService, Endpoint, Interface, Region } from '../model.ts';
import { flag, parseJson, uniquely } from '../../platform/db/store-helpers.ts';

const toRegion = (r: Selectable<RegionTable>): Region => ({
  id: r.id,
  description: r.description,
  parentRegionId: r.parent_region_id,
  extra: parseJson(r.extra, {}),
});
const toService = (r: Selectable<ServiceTable>): CatalogService => ({
  id: r.id,
  type: r.type,
  name: r.name,
  description: r.description,
  enabled: r.enabled === 1,
  extra: parseJson(r.extra, {}),
});
const toEndpoint = (r: Selectable<EndpointTable>): Endpoint => ({
  id: r.id,
  serviceId: r.service_id,
  interface: r.interface as Interface,
  regionId: r.region_id,
  url: r.url,
  enabled: r.enabled === 1,
  extra: parseJson(r.extra, {}),
});

export async function insertRegion(db: IdentityExecutor, r: Region): Promise<Region> {
  await uniquely(`Duplicate ID, ${r.id}.`, () =>
    db
      .insertInto('regions')
      .values({
        id: r.id,
        description: r.description,
        parent_region_id: r.parentRegionId,
        extra: JSON.stringify(r.extra),
      })
      .execute(),
  );
  return r;
}
export async function getRegion(db: IdentityExecutor, id: string): Promise<Region | undefined> {
  const r = await db.selectFrom('regions').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toRegion(r);
}
export async function listRegions(
  db: IdentityExecutor,
  f: { parentRegionId?: string },
): Promise<Region[]> {
  let q = db.selectFrom('regions').selectAll().orderBy('id');
  if (f.parentRegionId !== undefined) q = q.where('parent_region_id', '=', f.parentRegionId);
  return (await q.execute()).map(toRegion);
}
export async function updateRegion(db: IdentityExecutor, r: Region): Promise<Region> {
  await db
    .updateTable('regions')
    .set({
      description: r.description,
      parent_region_id: r.parentRegionId,
      extra: JSON.stringify(r.extra),
    })
    .where('id', '=', r.id)
    .execute();
  return r;
}
export async function deleteRegion(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('regions').where('id', '=', id).execute();
}

export async function insertService(
  db: IdentityExecutor,
  s: CatalogService,
): Promise<CatalogService> {
  await db
    .insertInto('services')
    .values({
      id: s.id,
      type: s.type,
      name: s.name,
      description: s.description,
      enabled: flag(s.enabled),
      extra: JSON.stringify(s.extra),
    })
    .execute();
  return s;
}
export async function getService(
  db: IdentityExecutor,
  id: string,
): Promise<CatalogService | undefined> {
  const r = await db.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toService(r);
}
export async function listServices(
  db: IdentityExecutor,
  f: { type?: string; name?: string },
): Promise<CatalogService[]> {
  let q = db.selectFrom('services').selectAll().orderBy('type');
  if (f.type !== undefined) q = q.where('type', '=', f.type);
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  return (await q.execute()).map(toService);
}
export async function updateService(
  db: IdentityExecutor,
  s: CatalogService,
): Promise<CatalogService> {
  await db
    .updateTable('services')
    .set({
      type: s.type,
      name: s.name,
      description: s.description,
      enabled: flag(s.enabled),
      extra: JSON.stringify(s.extra),
    })
    .where('id', '=', s.id)
    .execute();
  return s;
}
export async function deleteService(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('services').where('id', '=', id).execute();
}

export async function insertEndpoint(db: IdentityExecutor, e: Endpoint): Promise<Endpoint> {
  await db
    .insertInto('endpoints')
    .values({
      id: e.id,
      service_id: e.serviceId,
      interface: e.interface,
      region_id: e.regionId,
      url: e.url,
      enabled: flag(e.enabled),
      extra: JSON.stringify(e.extra),
    })
    .execute();
  return e;
}
export async function getEndpoint(db: IdentityExecutor, id: string): Promise<Endpoint | undefined> {
  const r = await db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toEndpoint(r);
}
export async function listEndpoints(
  db: IdentityExecutor,
  f: { serviceId?: string; interface?: string; regionId?: string },
): Promise<Endpoint[]> {
  let q = db.selectFrom('endpoints').selectAll().orderBy('service_id').orderBy('interface');
  if (f.serviceId !== undefined) q = q.where('service_id', '=', f.serviceId);
  if (f.interface !== undefined) q = q.where('interface', '=', f.interface);
  if (f.regionId !== undefined) q = q.where('region_id', '=', f.regionId);
  return (await q.execute()).map(toEndpoint);
}
export async function updateEndpoint(db: IdentityExecutor, e: Endpoint): Promise<Endpoint> {
  await db
    .updateTable('endpoints')
    .set({
      service_id: e.serviceId,
      interface: e.interface,
      region_id: e.regionId,
      url: e.url,
      enabled: flag(e.enabled),
      extra: JSON.stringify(e.extra),
    })
    .where('id', '=', e.id)
    .execute();
  return e;
}
export async function deleteEndpoint(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('endpoints').where('id', '=', id).execute();
}
