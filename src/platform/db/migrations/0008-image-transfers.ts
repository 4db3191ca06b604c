// Who is moving an image's bytes: the api process that runs an upload, a stage or an import
// records itself and beats while it lives, so any replica can tell a stalled transfer (its owner
// gone) from a slow one; and the per-project slot an import holds, so a unique index keeps the
// number of imports a project runs at once under the limit on every dialect, whichever replica
// starts them. Never edit a released migration; add the next one.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('images').addColumn('transfer_owner', 'text').execute();
  await db.schema.alterTable('images').addColumn('transfer_heartbeat', 'bigint').execute();
  await db.schema.alterTable('images').addColumn('import_slot', 'integer').execute();
  // NULL slots (every image not importing) are distinct on both dialects, so only taken slots clash.
  await db.schema
    .createIndex('images_import_slot')
    .on('images')
    .columns(['owner', 'import_slot'])
    .unique()
    .execute();
  await db.schema
    .createIndex('images_transfer_owner')
    .on('images')
    .column('transfer_owner')
    .execute();
  // Transfers in flight when an older version stopped have no owner that beats: an empty owner,
  // last seen at their last progress, lets the sweep recover them like any other.
  await db
    .updateTable('images')
    .set({ transfer_owner: '', transfer_heartbeat: sql`updated_at` })
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['saving', 'importing']),
        eb.and([eb('status', '=', 'uploading'), eb('stage_key', 'is', null)]),
      ]),
    )
    .execute();
}
