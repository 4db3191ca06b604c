// Use cases for key pairs: a user's named public keys, injected into the instances they boot.
// They belong to the user, not the project; admins may manage other users' pairs (2.10).
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { Forbidden, NotFound } from '../../platform/errors.ts';
import * as keypairs from '../store/keypairs.ts';
import type { Keypair, KeypairType } from '../model.ts';
import { generateSshKeypair, sshFingerprint, x509Fingerprint } from './ssh-keys.ts';

export function createKeypairService(deps: {
  db: DbHandle;
  policy: Policy;
  quota: (ctx: AuthContext) => Promise<number>;
  now?: () => number;
  /** Runs the count and the insert under the user's quota lock (quotas.withLock). */
  withLock: <T>(key: string, work: (trx: DbHandle) => Promise<T>) => Promise<T>;
}) {
  const { db, policy } = deps;
  const now = deps.now ?? Date.now;
  const owner = (ctx: AuthContext, userId: string | undefined) => userId ?? ctx.user.id;

  return {
    async create(
      ctx: AuthContext,
      k: { name: string; type: KeypairType; publicKey?: string; userId?: string },
    ): Promise<Keypair & { privateKey?: string }> {
      const userId = owner(ctx, k.userId);
      policy.enforce('os_compute_api:os-keypairs:create', ctx.credentials, { user_id: userId });
      const quota = await deps.quota(ctx);
      let publicKey = k.publicKey;
      let privateKey: string | undefined;
      if (publicKey === undefined)
        ({ publicKey, privateKey } = generateSshKeypair('Generated-by-Nova'));
      const fingerprint =
        k.type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
      const saved = await deps.withLock(`user:${userId}`, async (trx) => {
        if (quota >= 0 && (await keypairs.countKeypairs(trx, userId)) >= quota) {
          // Nova answers this quota with 403, not 413.
          throw new Forbidden(
            `Quota exceeded, too many key pairs: at most ${quota} per user; delete some first.`,
            'keypair_quota',
          );
        }
        return keypairs.insertKeypair(trx, {
          userId,
          name: k.name,
          type: k.type,
          publicKey: publicKey.trim(),
          fingerprint,
          createdAt: now(),
        });
      });
      return privateKey === undefined ? saved : { ...saved, privateKey };
    },

    async list(
      ctx: AuthContext,
      q: { userId?: string; limit: number; marker?: string },
    ): Promise<Keypair[]> {
      const userId = owner(ctx, q.userId);
      policy.enforce('os_compute_api:os-keypairs:index', ctx.credentials, { user_id: userId });
      if (q.marker !== undefined && !(await keypairs.getKeypair(db, userId, q.marker)))
        throw new NotFound(
          `Keypair ${q.marker} could not be found (marker).`,
          'keypair_bad_marker',
        );
      return keypairs.listKeypairs(db, userId, {
        limit: q.limit,
        ...(q.marker !== undefined ? { marker: q.marker } : {}),
      });
    },

    async get(ctx: AuthContext, name: string, userId?: string): Promise<Keypair> {
      const uid = owner(ctx, userId);
      policy.enforce('os_compute_api:os-keypairs:show', ctx.credentials, { user_id: uid });
      const k = await keypairs.getKeypair(db, uid, name);
      if (!k) throw new NotFound(`Keypair ${name} not found for user ${uid}`, 'keypair_not_found');
      return k;
    },

    async remove(ctx: AuthContext, name: string, userId?: string): Promise<void> {
      const uid = owner(ctx, userId);
      policy.enforce('os_compute_api:os-keypairs:delete', ctx.credentials, { user_id: uid });
      if (!(await keypairs.deleteKeypair(db, uid, name)))
        throw new NotFound(`Keypair ${name} not found for user ${uid}`, 'keypair_not_found');
    },
  };
}

export type KeypairService = ReturnType<typeof createKeypairService>;
