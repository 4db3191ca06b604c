// Identity's generation: one counter the database itself bumps, by trigger, in the same transaction
// as any write to a table a token validation reads, so a replica can trust what it cached about a
// token for exactly as long as the counter has not moved. Never edit a released migration.
import { PostgresAdapter, sql, type Kysely } from 'kysely';

/** What a validation reads (src/identity/service/token-context.ts, role-resolver.ts): users,
 * groups, domains, projects, roles and their implications, assignments, application credentials,
 * revocation events, and the token key ring in meta. A later table a validation reads gets the
 * same trigger in its own migration (`bumpIdentityGenerationOn`). The catalog is not here: it is
 * not part of a token's context (catalog.ts keeps its own short cache). */
const READ_BY_VALIDATION = [
  'meta',
  'domains',
  'projects',
  'users',
  'groups',
  'user_groups',
  'roles',
  'implied_roles',
  'assignments',
  'app_credentials',
  'revocation_events',
] as const;

/** Makes every INSERT, UPDATE and DELETE on `table` bump identity_generation in its transaction. */
export async function bumpIdentityGenerationOn(db: Kysely<any>, table: string): Promise<void> {
  const t = sql.table(table);
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    // Per statement and BEFORE it: every writer takes the counter's row lock before any row lock
    // of its own, always in that order, so two identity writers wait on each other but never
    // deadlock. The lock is held to commit, when the new value and the change appear together.
    await sql`CREATE TRIGGER ${sql.id(`${table}_bumps_identity_generation`)}
      BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t}
      FOR EACH STATEMENT EXECUTE FUNCTION identity_generation_bump()`.execute(db);
    return;
  }
  // SQLite has row triggers only; its writers are serial anyway (one writer at a time per file).
  for (const op of ['insert', 'update', 'delete'] as const)
    await sql`CREATE TRIGGER ${sql.id(`${table}_bumps_identity_generation_${op}`)}
      AFTER ${sql.raw(op.toUpperCase())} ON ${t}
      BEGIN UPDATE identity_generation SET value = value + 1 WHERE id = 1; END`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('identity_generation')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('identity_generation').values({ id: 1, value: 0 }).execute();
  if (db.getExecutor().adapter instanceof PostgresAdapter)
    await sql`CREATE FUNCTION identity_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE identity_generation SET value = value + 1 WHERE id = 1;
        RETURN NULL;
      END $$`.execute(db);
  for (const table of READ_BY_VALIDATION) await bumpIdentityGenerationOn(db, table);
}
