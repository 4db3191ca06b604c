// SQL for console tokens: only a token's SHA-256 is stored, and consuming one deletes it in the same
// statement that finds it, so two proxies racing on one token cannot both win.
import { createHash } from 'node:crypto';
import type { ComputeExecutor } from './tables.ts';

export const hashToken = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

export async function addToken(
  db: ComputeExecutor,
  t: { token: string; instanceId: string; host: string; expiresAt: number },
  now: number,
): Promise<void> {
  await db
    .insertInto('console_tokens')
    .values({
      token_hash: hashToken(t.token),
      instance_id: t.instanceId,
      host: t.host,
      expires_at: t.expiresAt,
      created_at: now,
    })
    .execute();
}

export type Consumed =
  | { readonly ok: true; readonly instanceId: string }
  | { readonly ok: false; readonly why: 'unknown' | 'expired' | 'other-host' };

/**
 * Takes the token for `host`: deleted whatever the outcome once found (expired or meant for another
 * host: a token that was shown to the wrong proxy is not trusted again).
 */
export async function consumeToken(
  db: ComputeExecutor,
  token: string,
  host: string,
  now: number,
): Promise<Consumed> {
  const row = await db
    .deleteFrom('console_tokens')
    .where('token_hash', '=', hashToken(token))
    .returning(['instance_id', 'host', 'expires_at'])
    .executeTakeFirst();
  if (!row) return { ok: false, why: 'unknown' };
  if (Number(row.expires_at) <= now) return { ok: false, why: 'expired' };
  if (row.host !== host) return { ok: false, why: 'other-host' };
  return { ok: true, instanceId: row.instance_id };
}

/** Deletes expired tokens (the conductor's sweep); returns how many went. */
export async function sweepTokens(db: ComputeExecutor, now: number): Promise<number> {
  const r = await db.deleteFrom('console_tokens').where('expires_at', '<=', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Deletes every token of an instance (it is deleted: its consoles go with it, as Nova's). */
export async function deleteInstanceTokens(db: ComputeExecutor, instanceId: string): Promise<void> {
  await db.deleteFrom('console_tokens').where('instance_id', '=', instanceId).execute();
}
