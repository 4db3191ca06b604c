// Keystone's opt-in account lockout and password rules ([security_compliance]): failed attempts and
// the last sign-in per user, user options, whether the current password was set by its user, and
// earlier passwords as hashes only (never the passwords). Never edit a released migration.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const users = () => db.schema.alterTable('users');
  // One ALTER per column: SQLite adds only one column per statement.
  await users()
    .addColumn('failed_auth_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await users().addColumn('failed_auth_at', 'bigint').execute();
  await users().addColumn('last_active_at', 'bigint').execute();
  // Set by a change through POST /v3/users/{id}/password (minimum_password_age applies to those
  // only: an administrator's reset can always be changed by its user at once).
  await users()
    .addColumn('password_self_service', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Keystone's user options (ignore_lockout_failure_attempts, lock_password, ...), a JSON object.
  await users()
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();

  await db.schema
    .createTable('password_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('password_history_user')
    .on('password_history')
    .columns(['user_id', 'created_at'])
    .execute();
}
