// Opens the database named by a URL (a SQLite path, 'sqlite::memory:' or postgres://...), runs the
// migrations, and hands out one typed Kysely instance. Store modules (src/<svc>/store/) query
// through it; services hold it as an opaque DbHandle and run transactions with inTransaction().
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import { NodeSqliteDialect } from './sqlite-dialect.ts';
import type { DB } from './schema.ts';
import * as m0001 from './migrations/0001-identity.ts';
import * as m0002 from './migrations/0002-image.ts';
import * as m0003 from './migrations/0003-compute.ts';
import * as m0004 from './migrations/0004-servers.ts';
import * as m0005 from './migrations/0005-shelved-image.ts';
import * as m0006 from './migrations/0006-console-tokens.ts';

export type Db = Kysely<DB>;
export type DialectName = 'sqlite' | 'postgres';

declare const dbHandle: unique symbol;

/**
 * The database as a service holds it: it hands it to its store's functions (a DbHandle is a
 * store-helpers `Executor`) and runs transactions with `inTransaction`, but every Kysely method is
 * typed `never` on it, so a service cannot build a query. Only store modules write SQL.
 */
export type DbHandle = (Kysely<DB> | Transaction<DB>) & {
  readonly [K in keyof Kysely<DB>]: never;
} & { readonly [dbHandle]: 'DbHandle' };

/** The handle services get for `db` (the same object; only its type hides the query builder). */
export const handleOf = (db: Db): DbHandle => db as unknown as DbHandle;

/**
 * Runs `work` in one transaction and hands it the transaction as a handle for store calls; commits
 * when `work` resolves, rolls back when it throws. Called inside a transaction, it joins that one.
 */
export async function inTransaction<T>(
  handle: DbHandle,
  work: (tx: DbHandle) => Promise<T>,
): Promise<T> {
  const db = handle as unknown as Kysely<DB> | Transaction<DB>;
  if (db.isTransaction) return work(handle);
  return db.transaction().execute((tx) => work(tx as unknown as DbHandle));
}

export interface Database {
  /** For store modules and for services not moved to `handle` yet (compute). */
  readonly db: Db;
  /** What the composition root hands to a service. */
  readonly handle: DbHandle;
  readonly dialect: DialectName;
  close(): Promise<void>;
}

const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-identity': m0001,
  '0002-image': m0002,
  '0003-compute': m0003,
  '0004-servers': m0004,
  '0005-shelved-image': m0005,
  '0006-console-tokens': m0006,
};

const staticProvider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

export function isPostgresUrl(url: string): boolean {
  return url.startsWith('postgres://') || url.startsWith('postgresql://');
}

export async function openDatabase(
  url: string,
  opts: { poolSize?: number } = {},
): Promise<Database> {
  let db: Db;
  let dialect: DialectName;
  if (isPostgresUrl(url)) {
    dialect = 'postgres';
    // Loaded only when used: the all-in-one cloud on SQLite does not pay pg's memory.
    const { default: pg } = await import('pg');
    // pg returns int8 as a string by default; our bigints are epoch milliseconds, safe as numbers.
    pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
    const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
    // An idle pooled connection the server ends (a restart, an administrator's terminate, a dropped
    // database) is an 'error' event with no query to fail; unheard, it would crash the process.
    // The pool has already discarded that client and opens a new one for the next query.
    pool.on('error', () => {});
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    const path = url === 'sqlite::memory:' ? ':memory:' : url.replace(/^sqlite:(\/\/)?/, '');
    db = new Kysely<DB>({ dialect: new NodeSqliteDialect(path) });
  }
  const migrator = new Migrator({ db, provider: staticProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { db, handle: handleOf(db), dialect, close: () => db.destroy() };
}

/** True when `e` is a unique-constraint violation on either dialect. */
export function isUniqueViolation(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  return (
    code === '23505' ||
    (code === 'ERR_SQLITE_ERROR' && /UNIQUE constraint failed/.test(e.message)) ||
    /UNIQUE constraint failed/.test(e.message)
  );
}

/** True when `e` is a foreign-key violation on either dialect. */
export function isForeignKeyViolation(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    (e as { code?: unknown }).code === '23503' || /FOREIGN KEY constraint failed/.test(e.message)
  );
}
