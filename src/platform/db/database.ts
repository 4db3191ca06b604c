// Opens the database named by a URL (a SQLite path, 'sqlite::memory:' or postgres://...), runs the
// migrations, and hands out one Kysely instance typed by the tables the caller names (the
// composition root names every service's, src/cli/tables.ts). Store modules (src/<svc>/store/)
// query through it; services hold it as an opaque DbHandle and run transactions with inTransaction().
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import { NodeSqliteDialect } from './sqlite-dialect.ts';
import * as m0001 from './migrations/0001-identity.ts';
import * as m0002 from './migrations/0002-image.ts';
import * as m0003 from './migrations/0003-compute.ts';
import * as m0004 from './migrations/0004-servers.ts';
import * as m0005 from './migrations/0005-shelved-image.ts';
import * as m0006 from './migrations/0006-console-tokens.ts';
import * as m0007 from './migrations/0007-password-rules.ts';
import * as m0008 from './migrations/0008-image-transfers.ts';
import * as m0009 from './migrations/0009-instance-progress.ts';
import * as m0010 from './migrations/0010-identity-generation.ts';

export type DialectName = 'sqlite' | 'postgres';

declare const dbHandle: unique symbol;

/** A database whose tables the type does not name: what the platform sees behind a handle. */
type Untabled = Kysely<object> | Transaction<object>;

/**
 * The database as a service holds it: it hands it to its store's functions and runs transactions
 * with `inTransaction`, but every Kysely method is typed `never` on it, so a service cannot build a
 * query. The handle names no tables: a store function declares its own service's executor
 * (`ComputeExecutor`, ...) and the handle passes there, with no cast, because TypeScript does not
 * reject one Kysely table type for another on assignment (Kysely's methods are generic over the
 * tables a query names). So what a store may name is fixed by the executor type it declares, and
 * that the tables exist is the migrations' promise (one set, for every service), not the type's.
 */
export type DbHandle = Untabled & {
  readonly [K in keyof Kysely<object>]: never;
} & { readonly [dbHandle]: 'DbHandle' };

/** The handle services get for `db` (the same object; only its type hides the query builder). */
export const handleOf = <T>(db: Kysely<T>): DbHandle => db as unknown as DbHandle;

/**
 * Runs `work` in one transaction and hands it the transaction as a handle for store calls; commits
 * when `work` resolves, rolls back when it throws. Called inside a transaction, it joins that one.
 */
export async function inTransaction<T>(
  handle: DbHandle,
  work: (tx: DbHandle) => Promise<T>,
): Promise<T> {
  const db = handle as unknown as Untabled;
  if (db.isTransaction) return work(handle);
  return db.transaction().execute((tx) => work(tx as unknown as DbHandle));
}

/** An open database over the tables `T` (the caller's choice: the whole cloud's, or a test's own). */
export interface Database<T> {
  /** The query builder, for store tests, fixtures and benchmarks; services get `handle` instead. */
  readonly db: Kysely<T>;
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
  '0007-password-rules': m0007,
  '0008-image-transfers': m0008,
  '0009-instance-progress': m0009,
  '0010-identity-generation': m0010,
};

const staticProvider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

export function isPostgresUrl(url: string): boolean {
  return url.startsWith('postgres://') || url.startsWith('postgresql://');
}

/**
 * Opens and migrates the database at `url`. `T` only types the returned query builder: the
 * migrations (one numbered set for every service) create all the tables whatever `T` names.
 */
export async function openDatabase<T extends object>(
  url: string,
  opts: { poolSize?: number } = {},
): Promise<Database<T>> {
  let db: Kysely<T>;
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
    db = new Kysely<T>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    const path = url === 'sqlite::memory:' ? ':memory:' : url.replace(/^sqlite:(\/\/)?/, '');
    if (path !== ':memory:') ownerOnly(path);
    db = new Kysely<T>({ dialect: new NodeSqliteDialect(path) });
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

/**
 * The SQLite file holds the token keys: owner-only, whatever the umask or an older file's mode.
 * The file is made here (empty is a valid database) so SQLite, which gives its -wal and -shm files
 * the database file's mode, makes those owner-only as well; existing ones are tightened.
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const mode = statSync(p).mode & 0o7777;
      if ((mode & 0o077) !== 0) chmodSync(p, mode & ~0o077);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
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
