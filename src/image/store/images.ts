// SQL for images, their extra properties and tags: reads, the visibility-aware list with keyset
// pagination, updates, and the one writer of `status` (transition), which applies states.ts.
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { ImageTables, ImageTable, ImageExecutor } from './tables.ts';
import type { Selectable } from 'kysely';
import { flag, uniquely } from '../../platform/db/store-helpers.ts';
import { InvalidState, assertNever } from '../../platform/errors.ts';
import { compareAndSwap } from '../../platform/db/transitions.ts';
import {
  imageTransitions,
  refusalMessage,
  type ImageAction,
  type ImageStatus,
  type ImageTransition,
} from '../states.ts';
import type {
  Image,
  ImageCore,
  ImageQuery,
  MemberStatus,
  SortKey,
  SortSpec,
  TimeFilter,
  Visibility,
} from '../model.ts';

type Row = Selectable<ImageTable>;

function toImage(r: Row, props: Record<string, string>, tags: string[]): Image {
  return {
    id: r.id,
    name: r.name,
    status: r.status as ImageStatus,
    visibility: r.visibility as Visibility,
    protected: r.protected === 1,
    osHidden: r.os_hidden === 1,
    owner: r.owner,
    diskFormat: r.disk_format,
    containerFormat: r.container_format,
    minDisk: Number(r.min_disk),
    minRam: Number(r.min_ram),
    size: r.size === null ? null : Number(r.size),
    virtualSize: r.virtual_size === null ? null : Number(r.virtual_size),
    checksum: r.checksum,
    osHashAlgo: r.os_hash_algo,
    osHashValue: r.os_hash_value,
    location: r.location,
    stageKey: r.stage_key,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    tags,
    properties: props,
  };
}

async function hydrate(db: ImageExecutor, rows: readonly Row[]): Promise<Image[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [props, tags] = await Promise.all([
    db
      .selectFrom('image_properties')
      .selectAll()
      .where('image_id', 'in', ids)
      .orderBy('name')
      .execute(),
    db.selectFrom('image_tags').selectAll().where('image_id', 'in', ids).orderBy('tag').execute(),
  ]);
  const p = new Map<string, Record<string, string>>();
  const t = new Map<string, string[]>();
  for (const x of props)
    (p.get(x.image_id) ?? p.set(x.image_id, {}).get(x.image_id)!)[x.name] = x.value;
  for (const x of tags) (t.get(x.image_id) ?? t.set(x.image_id, []).get(x.image_id)!).push(x.tag);
  return rows.map((r) => toImage(r, p.get(r.id) ?? {}, t.get(r.id) ?? []));
}

export async function getImage(db: ImageExecutor, id: string): Promise<Image | undefined> {
  const r = await db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? (await hydrate(db, [r]))[0] : undefined;
}

export interface NewImage extends ImageCore {
  readonly id: string;
  readonly owner: string | null;
  readonly properties: Readonly<Record<string, string>>;
  readonly tags: readonly string[];
  readonly now: number;
}

export async function insertImage(db: ImageExecutor, n: NewImage): Promise<Image> {
  await uniquely(`Image with identifier ${n.id} already exists!`, () =>
    db
      .insertInto('images')
      .values({
        id: n.id,
        name: n.name,
        status: 'queued',
        visibility: n.visibility,
        protected: flag(n.protected),
        os_hidden: flag(n.osHidden),
        owner: n.owner,
        disk_format: n.diskFormat,
        container_format: n.containerFormat,
        min_disk: n.minDisk,
        min_ram: n.minRam,
        size: null,
        virtual_size: null,
        checksum: null,
        os_hash_algo: null,
        os_hash_value: null,
        location: null,
        stage_key: null,
        pending_bytes: 0,
        transfer_owner: null,
        transfer_heartbeat: null,
        import_slot: null,
        created_at: n.now,
        updated_at: n.now,
      })
      .execute(),
  );
  await writeProperties(db, n.id, n.properties, []);
  await writeTags(db, n.id, n.tags);
  return (await getImage(db, n.id))!;
}

async function writeProperties(
  db: ImageExecutor,
  id: string,
  set: Readonly<Record<string, string>>,
  remove: readonly string[],
): Promise<void> {
  if (remove.length > 0)
    await db
      .deleteFrom('image_properties')
      .where('image_id', '=', id)
      .where('name', 'in', [...remove])
      .execute();
  const rows = Object.entries(set).map(([name, value]) => ({ image_id: id, name, value }));
  if (rows.length > 0) {
    await db
      .insertInto('image_properties')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['image_id', 'name']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })),
      )
      .execute();
  }
}

async function writeTags(db: ImageExecutor, id: string, tags: readonly string[]): Promise<void> {
  await db.deleteFrom('image_tags').where('image_id', '=', id).execute();
  const unique = [...new Set(tags)];
  if (unique.length > 0)
    await db
      .insertInto('image_tags')
      .values(unique.map((tag) => ({ image_id: id, tag })))
      .execute();
}

export interface ImageChanges {
  readonly core?: Partial<ImageCore> & { owner?: string | null };
  readonly setProperties?: Readonly<Record<string, string>>;
  readonly removeProperties?: readonly string[];
  readonly tags?: readonly string[];
  readonly now: number;
}

/** Applies user-made changes (never status); the caller runs it in a transaction. */
export async function updateImage(
  db: ImageExecutor,
  id: string,
  c: ImageChanges,
): Promise<Image | undefined> {
  const k = c.core ?? {};
  const set: Partial<Row> = { updated_at: c.now };
  if (k.name !== undefined) set.name = k.name;
  if (k.visibility !== undefined) set.visibility = k.visibility;
  if (k.protected !== undefined) set.protected = flag(k.protected);
  if (k.osHidden !== undefined) set.os_hidden = flag(k.osHidden);
  if (k.diskFormat !== undefined) set.disk_format = k.diskFormat;
  if (k.containerFormat !== undefined) set.container_format = k.containerFormat;
  if (k.minDisk !== undefined) set.min_disk = k.minDisk;
  if (k.minRam !== undefined) set.min_ram = k.minRam;
  if (k.owner !== undefined) set.owner = k.owner;
  const r = await db.updateTable('images').set(set).where('id', '=', id).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return undefined;
  await writeProperties(db, id, c.setProperties ?? {}, c.removeProperties ?? []);
  if (c.tags) await writeTags(db, id, c.tags);
  return getImage(db, id);
}

export async function addTag(
  db: ImageExecutor,
  id: string,
  tag: string,
  now: number,
): Promise<void> {
  await db
    .insertInto('image_tags')
    .values({ image_id: id, tag })
    .onConflict((oc) => oc.columns(['image_id', 'tag']).doNothing())
    .execute();
  await db.updateTable('images').set({ updated_at: now }).where('id', '=', id).execute();
}

export async function removeTag(
  db: ImageExecutor,
  id: string,
  tag: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .deleteFrom('image_tags')
    .where('image_id', '=', id)
    .where('tag', '=', tag)
    .executeTakeFirst();
  await db.updateTable('images').set({ updated_at: now }).where('id', '=', id).execute();
  return Number(r.numDeletedRows) > 0;
}

/** Columns a transition may set along with the status (data facts, the store key, pending bytes). */
export type TransitionFields = Partial<
  Pick<
    Row,
    | 'size'
    | 'virtual_size'
    | 'checksum'
    | 'os_hash_algo'
    | 'os_hash_value'
    | 'location'
    | 'stage_key'
    | 'pending_bytes'
    | 'disk_format'
    | 'transfer_owner'
    | 'transfer_heartbeat'
    | 'import_slot'
  >
>;

/**
 * Moves the image's status by `action` (states.ts) as one compare-and-swap UPDATE, with `fields`
 * set in the same statement. Throws InvalidState (409) if the image is in another status, or
 * returns undefined if it no longer exists.
 */
export async function transition(
  db: ImageExecutor,
  id: string,
  action: ImageAction,
  fields: TransitionFields,
  now: number,
): Promise<Image | undefined> {
  const t: ImageTransition = imageTransitions[action];
  const changed = await compareAndSwap(db, 'images', 'id', id, t, {
    set: { ...fields, updated_at: now },
    refuse: (cur) =>
      new InvalidState(refusalMessage(action, cur.status), 'image_invalid_state', {
        status: cur.status,
        action,
      }),
  });
  if (!changed) return undefined;
  return getImage(db, id);
}

/** Sets pending bytes (an upload's progress against the quota); `now` is the upload's heartbeat. */
export async function setPendingBytes(
  db: ImageExecutor,
  id: string,
  bytes: number,
  now: number,
): Promise<void> {
  await db
    .updateTable('images')
    .set({ pending_bytes: bytes, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/** Marks progress on long work (an import) without changing anything else (the sweep reads it). */
export async function touch(db: ImageExecutor, id: string, now: number): Promise<void> {
  await db.updateTable('images').set({ updated_at: now }).where('id', '=', id).execute();
}

export async function deleteImage(db: ImageExecutor, id: string): Promise<boolean> {
  const r = await db.deleteFrom('images').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Bytes the project holds: stored data plus uploads and staged data in progress. */
export async function storageUsed(db: ImageExecutor, owner: string): Promise<number> {
  const r = await db
    .selectFrom('images')
    .select((eb) =>
      eb.fn
        .coalesce(eb.fn.sum<number>(sql<number>`coalesce(size, 0) + pending_bytes`), sql<number>`0`)
        .as('used'),
    )
    .where('owner', '=', owner)
    .executeTakeFirst();
  return Number(r?.used ?? 0);
}

export async function countImages(db: ImageExecutor, owner: string): Promise<number> {
  const r = await db
    .selectFrom('images')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('owner', '=', owner)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

// --- listing

const NUMERIC_KEYS = new Set<SortKey>([
  'created_at',
  'updated_at',
  'size',
  'virtual_size',
  'min_disk',
  'min_ram',
  'protected',
]);

type EB = ExpressionBuilder<ImageTables, 'images'>;

function sortValue(eb: EB, key: SortKey): Expression<unknown> {
  // Nulls sort as the lowest value on both dialects, so keyset comparisons never meet a NULL.
  return NUMERIC_KEYS.has(key)
    ? sql`coalesce(${eb.ref(`images.${key}`)}, -1)`
    : sql`coalesce(${eb.ref(`images.${key}`)}, '')`;
}

function markerValue(m: Image, key: SortKey): string | number {
  const v = (
    {
      created_at: m.createdAt,
      updated_at: m.updatedAt,
      id: m.id,
      name: m.name,
      status: m.status,
      container_format: m.containerFormat,
      disk_format: m.diskFormat,
      size: m.size,
      virtual_size: m.virtualSize,
      min_disk: m.minDisk,
      min_ram: m.minRam,
      owner: m.owner,
      visibility: m.visibility,
      protected: flag(m.protected),
    } satisfies Record<SortKey, unknown>
  )[key];
  return v ?? (NUMERIC_KEYS.has(key) ? -1 : '');
}

function memberClause(
  eb: EB,
  projectId: string,
  status: MemberStatus | 'all',
): Expression<SqlBool> {
  let q = eb
    .selectFrom('image_members')
    .select('image_members.image_id')
    .whereRef('image_members.image_id', '=', 'images.id')
    .where('image_members.member_id', '=', projectId);
  if (status !== 'all') q = q.where('image_members.status', '=', status);
  return eb.exists(q);
}

/** Which images the caller lists, before filters: Glance's rules (docs/image.md, "Who sees what"). */
function visibleClause(eb: EB, q: ImageQuery): Expression<SqlBool> | null {
  const { projectId, isAdmin } = q.viewer;
  const own = projectId === null ? eb.lit(false) : eb('images.owner', '=', projectId);
  const sharedWithMe =
    projectId === null ? eb.lit(false) : memberClause(eb, projectId, q.memberStatus ?? 'accepted');
  const isShared = eb('images.visibility', '=', 'shared');
  switch (q.visibility) {
    case undefined:
      // Other projects' community images are listed only on request, even to admins.
      if (isAdmin) return eb.or([eb('images.visibility', '!=', 'community'), own]);
      return eb.or([eb('images.visibility', '=', 'public'), own, eb.and([isShared, sharedWithMe])]);
    case 'all':
      if (isAdmin) return null;
      return eb.or([
        eb('images.visibility', 'in', ['public', 'community']),
        own,
        eb.and([isShared, sharedWithMe]),
      ]);
    case 'public':
    case 'community':
      return eb('images.visibility', '=', q.visibility);
    case 'private':
      return isAdmin
        ? eb('images.visibility', '=', 'private')
        : eb.and([eb('images.visibility', '=', 'private'), own]);
    case 'shared':
      return eb.and([
        isShared,
        isAdmin && !q.memberStatus ? eb.lit(true) : eb.or([own, sharedWithMe]),
      ]);
    default:
      return assertNever(q.visibility, 'visibility');
  }
}

function timeClause(
  eb: EB,
  column: 'images.created_at' | 'images.updated_at',
  f: TimeFilter,
): Expression<SqlBool> {
  const op = ({ eq: '=', neq: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const)[f.op];
  return eb(column, op, f.at);
}

export async function listImages(db: ImageExecutor, q: ImageQuery): Promise<Image[]> {
  let query = db.selectFrom('images').selectAll('images');
  query = query.where((eb) => {
    const all: Expression<SqlBool>[] = [];
    const vis = visibleClause(eb, q);
    if (vis) all.push(vis);
    if (q.names) all.push(eb('images.name', 'in', [...q.names]));
    if (q.ids) all.push(eb('images.id', 'in', [...q.ids]));
    if (q.owners) all.push(eb('images.owner', 'in', [...q.owners]));
    if (q.statuses) all.push(eb('images.status', 'in', [...q.statuses]));
    if (q.diskFormats) all.push(eb('images.disk_format', 'in', [...q.diskFormats]));
    if (q.containerFormats) all.push(eb('images.container_format', 'in', [...q.containerFormats]));
    if (q.sizeMin !== undefined) all.push(eb('images.size', '>=', q.sizeMin));
    if (q.sizeMax !== undefined) all.push(eb('images.size', '<=', q.sizeMax));
    if (q.protected !== undefined) all.push(eb('images.protected', '=', flag(q.protected)));
    all.push(eb('images.os_hidden', '=', flag(q.osHidden ?? false)));
    // Killed images (a store failure mid-upload) are never listed, as in Glance; they can be shown and deleted.
    all.push(eb('images.status', '!=', 'killed'));
    for (const f of q.createdAt ?? []) all.push(timeClause(eb, 'images.created_at', f));
    for (const f of q.updatedAt ?? []) all.push(timeClause(eb, 'images.updated_at', f));
    for (const tag of q.tags ?? []) {
      all.push(
        eb.exists(
          eb
            .selectFrom('image_tags')
            .select('image_tags.image_id')
            .whereRef('image_tags.image_id', '=', 'images.id')
            .where('image_tags.tag', '=', tag),
        ),
      );
    }
    for (const [name, value] of Object.entries(q.properties ?? {})) {
      all.push(
        eb.exists(
          eb
            .selectFrom('image_properties')
            .select('image_properties.image_id')
            .whereRef('image_properties.image_id', '=', 'images.id')
            .where('image_properties.name', '=', name)
            .where('image_properties.value', '=', value),
        ),
      );
    }
    if (q.marker) all.push(afterMarker(eb, q.sort, q.marker));
    return eb.and(all);
  });
  for (const s of q.sort) query = query.orderBy((eb) => sortValue(eb, s.key), s.dir);
  query = query.limit(q.limit);
  return hydrate(db, await query.execute());
}

/** Keyset pagination: rows strictly after the marker in the (sort keys…) order. */
function afterMarker(eb: EB, sort: readonly SortSpec[], marker: Image): Expression<SqlBool> {
  const ors: Expression<SqlBool>[] = [];
  for (let i = 0; i < sort.length; i++) {
    const ands: Expression<SqlBool>[] = [];
    for (let j = 0; j < i; j++)
      ands.push(
        sql<SqlBool>`${sortValue(eb, sort[j]!.key)} = ${markerValue(marker, sort[j]!.key)}`,
      );
    const s = sort[i]!;
    const op = s.dir === 'asc' ? sql.raw('>') : sql.raw('<');
    ands.push(sql<SqlBool>`${sortValue(eb, s.key)} ${op} ${markerValue(marker, s.key)}`);
    ors.push(eb.and(ands));
  }
  return eb.or(ors);
}
