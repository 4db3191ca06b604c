// Databases for store tests: an in-memory SQLite always, and a fresh PostgreSQL database (dropped
// on close) when NUBES_TEST_DATABASE_URL is set, so the same SQL is checked on both dialects.
import { openDatabase, type Database } from '../../src/platform/db/database.ts';
import { freshPostgres } from './databases.ts';

export interface StoreDatabase<T> {
  readonly name: string;
  open(): Promise<Database<T>>;
}

/** `T`: the tables the test's queries name (a service's own, as its stores do). */
export function storeDatabases<T extends object>(): StoreDatabase<T>[] {
  const list: StoreDatabase<T>[] = [
    { name: 'SQLite', open: () => openDatabase<T>('sqlite::memory:') },
  ];
  const url = process.env['NUBES_TEST_DATABASE_URL'];
  if (url)
    list.push({
      name: 'PostgreSQL',
      open: async () => {
        const scratch = await freshPostgres(url);
        const d = await openDatabase<T>(scratch.url);
        return {
          ...d,
          close: async () => {
            await d.close();
            await scratch.drop();
          },
        };
      },
    });
  return list;
}
