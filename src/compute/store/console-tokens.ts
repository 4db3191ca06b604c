// SQL for console tokens: only a token's SHA-256 is stored. A token opens its instance's console
// as often as it is presented until it expires (a page reload reconnects, as Nova's); it goes with
// its instance (refused from the moment it is deleted), when it expires, and when it is shown to
// another host's proxy.
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
  | {
      readonly ok: false;
      readonly why: 'unknown' | 'expired' | 'other-host' | 'instance-deleted';
    };

/**
 * Checks the token for `host`; a valid one stays for the next connection. An expired token, one
 * meant for another host (a token shown to the wrong proxy is not trusted again) or one whose
 * instance is deleted is refused and deleted. The instance is read in the same query, so a token
 * stops at the deletion itself, not when the deletion's clean-up reaches its tokens.
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
    .leftJoin('instances', 'instances.id', 'console_tokens.instance_id')
    .select([
      'console_tokens.instance_id',
      'console_tokens.host',
      'console_tokens.expires_at',
      'instances.id as live_id',
      'instances.deleted_at',
    ])
    .where('console_tokens.token_hash', '=', hash)
    .executeTakeFirst();
  if (!row) return { ok: false, why: 'unknown' };
  const why =
    Number(row.expires_at) <= now
      ? 'expired'
      : row.live_id === null || row.deleted_at !== null
        ? 'instance-deleted'
        : row.host !== host
          ? 'other-host'
          : null;
  if (why !== null) {
    await db.deleteFrom('console_tokens').where('token_hash', '=', hash).execute();
    return { ok: false, why };
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
