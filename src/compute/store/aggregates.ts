// SQL for host aggregates: named sets of hosts with metadata (the scheduler's
// AggregateInstanceExtraSpecsFilter reads it) and optionally an availability zone.
import type { ComputeExecutor } from './tables.ts';

export interface Aggregate {
  readonly id: number;
  readonly uuid: string;
  readonly name: string;
  readonly availabilityZone: string | null;
  readonly hosts: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly updatedAt: number | null;
}

async function hydrate(
  db: ComputeExecutor,
  rows: readonly {
    id: number;
    uuid: string;
    name: string;
    availability_zone: string | null;
    created_at: number;
    updated_at: number | null;
  }[],
): Promise<Aggregate[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => Number(r.id));
  const hosts = await db
    .selectFrom('aggregate_hosts')
    .select(['aggregate_id', 'host'])
    .where('aggregate_id', 'in', ids)
    .orderBy('host')
    .execute();
  const meta = await db
    .selectFrom('aggregate_metadata')
    .select(['aggregate_id', 'key', 'value'])
    .where('aggregate_id', 'in', ids)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    uuid: r.uuid,
    name: r.name,
    availabilityZone: r.availability_zone,
    createdAt: Number(r.created_at),
    updatedAt: r.updated_at === null ? null : Number(r.updated_at),
    hosts: hosts.filter((h) => Number(h.aggregate_id) === Number(r.id)).map((h) => h.host),
    metadata: Object.fromEntries(
      meta.filter((m) => Number(m.aggregate_id) === Number(r.id)).map((m) => [m.key, m.value]),
    ),
  }));
}

export async function listAggregates(
  db: ComputeExecutor,
  f: { host?: string } = {},
): Promise<Aggregate[]> {
  let q = db.selectFrom('aggregates').selectAll().orderBy('id');
  if (f.host !== undefined)
    q = q.where(
      'id',
      'in',
      db.selectFrom('aggregate_hosts').select('aggregate_id').where('host', '=', f.host),
    );
  return hydrate(db, await q.execute());
}

export async function getAggregate(
  db: ComputeExecutor,
  id: number,
): Promise<Aggregate | undefined> {
  return (
    await hydrate(db, await db.selectFrom('aggregates').selectAll().where('id', '=', id).execute())
  )[0];
}

export async function insertAggregate(
  db: ComputeExecutor,
  a: { uuid: string; name: string; availabilityZone: string | null; createdAt: number },
): Promise<number> {
  // max + 1, again when another replica took that id first; a taken name is the caller's conflict.
  for (let attempt = 0; ; attempt++) {
    const max = await db
      .selectFrom('aggregates')
      .select((eb) => eb.fn.max<number>('id').as('m'))
      .executeTakeFirst();
    const id = Number(max?.m ?? 0) + 1;
    const r = await db
      .insertInto('aggregates')
      .values({
        id,
        uuid: a.uuid,
        name: a.name,
        availability_zone: a.availabilityZone,
        created_at: a.createdAt,
        updated_at: null,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n) === 1) return id;
    if (attempt >= 10) throw new Error('could not allocate an aggregate id');
  }
}

export async function updateAggregate(
  db: ComputeExecutor,
  id: number,
  u: { name?: string; availabilityZone?: string | null },
  now: number,
): Promise<void> {
  await db
    .updateTable('aggregates')
    .set({
      updated_at: now,
      ...(u.name !== undefined ? { name: u.name } : {}),
      ...(u.availabilityZone !== undefined ? { availability_zone: u.availabilityZone } : {}),
    })
    .where('id', '=', id)
    .execute();
}

export async function deleteAggregate(db: ComputeExecutor, id: number): Promise<void> {
  await db.deleteFrom('aggregates').where('id', '=', id).execute();
}

export async function addHost(db: ComputeExecutor, id: number, host: string): Promise<void> {
  await db.insertInto('aggregate_hosts').values({ aggregate_id: id, host }).execute();
}

export async function removeHost(db: ComputeExecutor, id: number, host: string): Promise<boolean> {
  const r = await db
    .deleteFrom('aggregate_hosts')
    .where('aggregate_id', '=', id)
    .where('host', '=', host)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Sets keys (null deletes one). */
export async function setMetadata(
  db: ComputeExecutor,
  id: number,
  changes: Readonly<Record<string, string | null>>,
): Promise<void> {
  for (const [key, value] of Object.entries(changes)) {
    if (value === null)
      await db
        .deleteFrom('aggregate_metadata')
        .where('aggregate_id', '=', id)
        .where('key', '=', key)
        .execute();
    else
      await db
        .insertInto('aggregate_metadata')
        .values({ aggregate_id: id, key, value })
        .onConflict((oc) => oc.columns(['aggregate_id', 'key']).doUpdateSet({ value }))
        .execute();
  }
}

/** Sets the zone hosts are in (aggregates with a zone decide it; without one, the default). */
export async function setHostZone(
  db: ComputeExecutor,
  hosts: readonly string[],
  zone: string,
): Promise<void> {
  if (hosts.length > 0)
    await db
      .updateTable('compute_hosts')
      .set({ availability_zone: zone })
      .where('host', 'in', [...hosts])
      .execute();
}
