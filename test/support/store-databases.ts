// Databases for store tests: an in-memory SQLite always, and a fresh PostgreSQL database (dropped
// on close) when NUBES_TEST_DATABASE_URL is set, so the same SQL is checked on both dialects.
import { openDatabase, type Database } from '../../src/platform/db/database.ts';
import { freshPostgres } from './databases.ts';

export interface StoreDatabase {
  readonly name: string;
  open(): Promise<Database>;
}

export function storeDatabases(): StoreDatabase[] {
  const list: StoreDatabase[] = [{ name: 'SQLite', open: () => openDatabase('sqlite::memory:') }];
  const url = process.env['NUBES_TEST_DATABASE_URL'];
  if (url)
    list.push({
      name: 'PostgreSQL',
      open: async () => {
        const scratch = await freshPostgres(url);
        const d = await openDatabase(scratch.url);
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
