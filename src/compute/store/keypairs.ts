// SQL for key pairs, which belong to a user (not a project), unique by name per user.
import type { Selectable } from 'kysely';
import type { KeypairTable, ComputeExecutor } from './tables.ts';
import { uniquely } from '../../platform/db/store-helpers.ts';
import type { Keypair, KeypairType } from '../model.ts';

const toKeypair = (r: Selectable<KeypairTable>): Keypair => ({
  userId: r.user_id,
  name: r.name,
  type: r.type as KeypairType,
  publicKey: r.public_key,
  fingerprint: r.fingerprint,
  createdAt: Number(r.created_at),
});

export async function insertKeypair(db: ComputeExecutor, k: Keypair): Promise<Keypair> {
  await uniquely(`Key pair '${k.name}' already exists.`, () =>
    db
      .insertInto('keypairs')
      .values({
        user_id: k.userId,
        name: k.name,
        type: k.type,
        public_key: k.publicKey,
        fingerprint: k.fingerprint,
        created_at: k.createdAt,
      })
      .execute(),
  );
  return k;
}

export async function getKeypair(
  db: ComputeExecutor,
  userId: string,
  name: string,
): Promise<Keypair | undefined> {
  const r = await db
    .selectFrom('keypairs')
    .selectAll()
    .where('user_id', '=', userId)
    .where('name', '=', name)
    .executeTakeFirst();
  return r && toKeypair(r);
}

export async function listKeypairs(
  db: ComputeExecutor,
  userId: string,
  page: { limit: number; marker?: string },
): Promise<Keypair[]> {
  let q = db
    .selectFrom('keypairs')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('name')
    .limit(page.limit);
  if (page.marker !== undefined) q = q.where('name', '>', page.marker);
  return (await q.execute()).map(toKeypair);
}

export async function countKeypairs(db: ComputeExecutor, userId: string): Promise<number> {
  const r = await db
    .selectFrom('keypairs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function deleteKeypair(
  db: ComputeExecutor,
  userId: string,
  name: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('keypairs')
    .where('user_id', '=', userId)
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
