// SQL for identity_generation: the counter the database bumps with every write a token validation
// could see (by trigger, migration 0007). Read once per validation, so it is compiled once.
import type { CompiledQuery } from 'kysely';
import type { IdentityExecutor } from './tables.ts';

const compiled = new WeakMap<IdentityExecutor, CompiledQuery>();

/** The current identity generation. */
export async function identityGeneration(db: IdentityExecutor): Promise<number> {
  let q = compiled.get(db);
  if (!q) {
    q = db.selectFrom('identity_generation').select('value').where('id', '=', 1).compile();
    compiled.set(db, q);
  }
  const row = (await db.executeQuery<{ value: number | string }>(q)).rows[0];
  // A missing row (a database whose migration is older than this code) never matches a cache.
  return row === undefined ? Number.NaN : Number(row.value);
}
