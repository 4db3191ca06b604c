// Shelving keeps the instance's root disk as an image (Nova's shelved_image_id, kept there in
// system metadata): unshelve boots from it, then deletes it. Never edit a released migration.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('instances').addColumn('shelved_image_id', 'text').execute();
}
