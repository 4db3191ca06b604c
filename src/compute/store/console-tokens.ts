// SQL for console tokens: only a token's SHA-256 is stored. A token opens its instance's console
// as often as it is presented until it expires (a page reload reconnects, as Nova's); it goes with
// its instance, when it expires, and when it is shown to another host's proxy.
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

export type TokenCheck =
  | { readonly ok: true; readonly instanceId: string }
  | { readonly ok: false; readonly why: 'unknown' | 'expired' | 'other-host' };

/**
 * Checks the token for `host`; a valid one stays for the next connection. An expired token, or
 * one meant for another host, is refused and deleted (a token shown to the wrong proxy is not
 * trusted again).
 */
export async function checkToken(
  db: ComputeExecutor,
  token: string,
  host: string,
  now: number,
): Promise<TokenCheck> {
  const hash = hashToken(token);
  const row = await db
    .selectFrom('console_tokens')
    .select(['instance_id', 'host', 'expires_at'])
    .where('token_hash', '=', hash)
    .executeTakeFirst();
  if (!row) return { ok: false, why: 'unknown' };
  const expired = Number(row.expires_at) <= now;
  if (expired || row.host !== host) {
    await db.deleteFrom('console_tokens').where('token_hash', '=', hash).execute();
    return { ok: false, why: expired ? 'expired' : 'other-host' };
  }
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
