// SQL for flavors, their extra specs and the projects a private flavor is open to.
import type { Kysely, Selectable } from 'kysely';
import type { ComputeTables, FlavorTable, ComputeExecutor } from './tables.ts';
import { flag, uniquely } from '../../platform/db/store-helpers.ts';
import type { Flavor, NewFlavor } from '../model.ts';
import { Conflict } from '../../platform/errors.ts';

function toFlavor(r: Selectable<FlavorTable>, specs: Record<string, string>): Flavor {
  return {
    id: r.id,
    name: r.name,
    ramMb: Number(r.ram_mb),
    vcpus: Number(r.vcpus),
    diskGb: Number(r.disk_gb),
    ephemeralGb: Number(r.ephemeral_gb),
    swapMb: Number(r.swap_mb),
    rxtxFactor: Number(r.rxtx_factor),
    isPublic: r.is_public === 1,
    disabled: r.disabled === 1,
    description: r.description,
    extraSpecs: specs,
    createdAt: Number(r.created_at),
  };
}

async function hydrate(
  db: ComputeExecutor,
  rows: readonly Selectable<FlavorTable>[],
): Promise<Flavor[]> {
  if (rows.length === 0) return [];
  const specs = await db
    .selectFrom('flavor_extra_specs')
    .selectAll()
    .where(
      'flavor_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('key')
    .execute();
  const by = new Map<string, Record<string, string>>();
  for (const s of specs)
    (by.get(s.flavor_id) ?? by.set(s.flavor_id, {}).get(s.flavor_id)!)[s.key] = s.value;
  return rows.map((r) => toFlavor(r, by.get(r.id) ?? {}));
}

export async function insertFlavor(
  db: ComputeExecutor,
  f: NewFlavor,
  now: number,
): Promise<Flavor> {
  // Nova names which of the two unique fields clashed; the name index backs this check under races.
  if (await db.selectFrom('flavors').select('id').where('name', '=', f.name).executeTakeFirst())
    throw new Conflict(`Flavor with name ${f.name} already exists.`, 'flavor_exists');
  await uniquely(`Flavor with ID ${f.id} already exists.`, () =>
    db
      .insertInto('flavors')
      .values({
        id: f.id,
        name: f.name,
        ram_mb: f.ramMb,
        vcpus: f.vcpus,
        disk_gb: f.diskGb,
        ephemeral_gb: f.ephemeralGb,
        swap_mb: f.swapMb,
        rxtx_factor: f.rxtxFactor,
        is_public: flag(f.isPublic),
        disabled: 0,
        description: f.description,
        created_at: now,
      })
      .execute(),
  );
  return (await getFlavor(db, f.id))!;
}

/** Whether a flavor has this id or this name. */
export async function flavorExists(
  db: ComputeExecutor,
  id: string,
  name: string,
): Promise<boolean> {
  return (
    (await db
      .selectFrom('flavors')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', id), eb('name', '=', name)]))
      .executeTakeFirst()) !== undefined
  );
}

export async function getFlavor(db: ComputeExecutor, id: string): Promise<Flavor | undefined> {
  const r = await db.selectFrom('flavors').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? (await hydrate(db, [r]))[0] : undefined;
}

export interface FlavorQuery {
  /** usable: public ones and private ones open to `project`; private: private only; all: every flavor. */
  readonly scope: 'usable' | 'private' | 'all';
  readonly project: string | null;
  readonly minRamMb?: number;
  readonly minDiskGb?: number;
  readonly sortKey: 'id' | 'name' | 'memory_mb' | 'vcpus' | 'root_gb' | 'created_at' | 'flavorid';
  readonly sortDir: 'asc' | 'desc';
  readonly limit: number;
  readonly marker?: Flavor;
}

const SORT_COLUMNS = {
  id: 'id',
  flavorid: 'id',
  name: 'name',
  memory_mb: 'ram_mb',
  vcpus: 'vcpus',
  root_gb: 'disk_gb',
  created_at: 'created_at',
} as const;

export async function listFlavors(db: ComputeExecutor, q: FlavorQuery): Promise<Flavor[]> {
  const col = SORT_COLUMNS[q.sortKey];
  let query = db.selectFrom('flavors').selectAll();
  if (q.scope === 'private') query = query.where('is_public', '=', 0);
  if (q.scope === 'usable') {
    const project = q.project;
    query = query
      .where('disabled', '=', 0)
      .where((eb) =>
        eb.or([
          eb('is_public', '=', 1),
          project === null
            ? eb.lit(false)
            : eb.exists(
                eb
                  .selectFrom('flavor_projects')
                  .select('flavor_projects.flavor_id')
                  .whereRef('flavor_projects.flavor_id', '=', 'flavors.id')
                  .where('flavor_projects.project_id', '=', project),
              ),
        ]),
      );
  }
  if (q.minRamMb !== undefined) query = query.where('ram_mb', '>=', q.minRamMb);
  if (q.minDiskGb !== undefined) query = query.where('disk_gb', '>=', q.minDiskGb);
  if (q.marker) {
    const m = q.marker;
    const mv = (
      {
        id: m.id,
        name: m.name,
        ram_mb: m.ramMb,
        vcpus: m.vcpus,
        disk_gb: m.diskGb,
        created_at: m.createdAt,
      } as const
    )[col];
    const op = q.sortDir === 'asc' ? '>' : '<';
    query = query.where((eb) =>
      eb.or([eb(col, op, mv), eb.and([eb(col, '=', mv), eb('id', op, m.id)])]),
    );
  }
  query = query.orderBy(col, q.sortDir).orderBy('id', q.sortDir).limit(q.limit);
  return hydrate(db, await query.execute());
}

export async function updateFlavorDescription(
  db: ComputeExecutor,
  id: string,
  description: string | null,
): Promise<void> {
  await db.updateTable('flavors').set({ description }).where('id', '=', id).execute();
}

export async function deleteFlavor(db: ComputeExecutor, id: string): Promise<boolean> {
  const r = await db.deleteFrom('flavors').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function setExtraSpecs(
  db: ComputeExecutor,
  id: string,
  specs: Readonly<Record<string, string>>,
): Promise<void> {
  const rows = Object.entries(specs).map(([key, value]) => ({ flavor_id: id, key, value }));
  if (rows.length === 0) return;
  await db
    .insertInto('flavor_extra_specs')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['flavor_id', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })),
    )
    .execute();
}

export async function deleteExtraSpec(
  db: ComputeExecutor,
  id: string,
  key: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('flavor_extra_specs')
    .where('flavor_id', '=', id)
    .where('key', '=', key)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listAccess(db: ComputeExecutor, id: string): Promise<string[]> {
  return (
    await db
      .selectFrom('flavor_projects')
      .select('project_id')
      .where('flavor_id', '=', id)
      .orderBy('project_id')
      .execute()
  ).map((r) => r.project_id);
}

export async function addAccess(db: ComputeExecutor, id: string, project: string): Promise<void> {
  await uniquely(
    `Flavor access already exists for flavor ${id} and project ${project} combination.`,
    () => db.insertInto('flavor_projects').values({ flavor_id: id, project_id: project }).execute(),
  );
}

export async function removeAccess(
  db: ComputeExecutor,
  id: string,
  project: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('flavor_projects')
    .where('flavor_id', '=', id)
    .where('project_id', '=', project)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function hasAccess(
  db: ComputeExecutor,
  id: string,
  project: string,
): Promise<boolean> {
  return (
    (await db
      .selectFrom('flavor_projects')
      .select('flavor_id')
      .where('flavor_id', '=', id)
      .where('project_id', '=', project)
      .executeTakeFirst()) !== undefined
  );
}

/**
 * Runs `seed` once per deployment: the first caller to record `marker` in the meta table does the
 * work in the same transaction; concurrent starts and later ones do nothing. `db` is the database,
 * not a transaction: the marker and the seed commit together, on their own.
 */
export async function once(
  db: Kysely<ComputeTables>,
  marker: string,
  seed: (trx: ComputeExecutor) => Promise<void>,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    // Whoever's token is stored won; read back rather than trust each driver's affected-row count.
    const token = `${Date.now()}-${crypto.randomUUID()}`;
    await trx
      .insertInto('meta')
      .values({ key: marker, value: token })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const stored = await trx
      .selectFrom('meta')
      .select('value')
      .where('key', '=', marker)
      .executeTakeFirst();
    if (stored?.value !== token) return false;
    await seed(trx);
    return true;
  });
}
