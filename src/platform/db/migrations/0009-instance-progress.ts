// An instance's progress (0-100) through its current task, as Nova's instances.progress: the host's
// steps of a build, snapshot, migration or resize fill it; null when no task reports any. Never
// edit a released migration.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('instances').addColumn('progress', 'integer').execute();
}
