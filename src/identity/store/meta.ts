// SQL for the `meta` table: identity's named facts (the token key ring, whether bootstrap ran), one
// JSON text value per key.
import type { IdentityExecutor } from './tables.ts';

export async function getMeta(db: IdentityExecutor, key: string): Promise<string | undefined> {
  return (await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst())
    ?.value;
}

/** Writes `value` under `key` unless the key exists (the first of several replicas wins). */
export async function insertMetaIfAbsent(
  db: IdentityExecutor,
  key: string,
  value: string,
): Promise<void> {
  await db
    .insertInto('meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
}

export async function setMeta(db: IdentityExecutor, key: string, value: string): Promise<void> {
  await db
    .insertInto('meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

/** Takes the row lock of a meta key until the transaction ends (a no-op write), so replicas doing
 * the same check-then-insert work at once take turns. SQLite transactions are serial anyway. */
export async function lockMeta(tx: IdentityExecutor, key: string): Promise<void> {
  await tx
    .updateTable('meta')
    .set((eb) => ({ value: eb.ref('value') }))
    .where('key', '=', key)
    .execute();
}
