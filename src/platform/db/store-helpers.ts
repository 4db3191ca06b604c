// Helpers every service's store modules share: the executor type, JSON columns, 0/1 flags, and
// unique-violation translation into a 409. Only store modules (src/<svc>/store/) and platform/db
// import this, as scripts/lint-imports.ts checks; services hold a DbHandle (database.ts) instead.
import { PostgresAdapter, type Kysely, type Transaction } from 'kysely';
import { isUniqueViolation } from './database.ts';
import { Conflict } from '../errors.ts';

/** The database or a transaction over the tables `T`: a store names its own service's, as in
 * src/compute/store/tables.ts (`ComputeExecutor`). */
export type Executor<T> = Kysely<T> | Transaction<T>;

export function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export const flag = (b: boolean): number => (b ? 1 : 0);

/** Runs an insert/update and turns a unique violation into Keystone's 409 with `message`. */
export async function uniquely<T>(message: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (isUniqueViolation(e)) throw new Conflict(message, 'duplicate');
    throw e;
  }
}

/** For the few queries whose SQL differs by dialect (regular expressions). */
export const isPostgres = <T>(db: Executor<T>): boolean =>
  db.getExecutor().adapter instanceof PostgresAdapter;
