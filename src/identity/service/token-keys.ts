// The token key ring as kept in the meta table: created on first start, reloaded when another
// replica rotated, and rotated (new staged key, old staged promoted, oldest dropped).
import type { DbHandle } from '../../platform/db/database.ts';
import * as meta from '../store/meta.ts';
import { TokenKeyRing, newTokenKey, type TokenKey } from './token-format.ts';

const KEYS_META = 'token_keys';

function encodeKeys(keys: readonly TokenKey[]): string {
  return JSON.stringify(keys.map((k) => ({ id: k.id, key: k.key.toString('base64') })));
}
function decodeKeys(text: string): TokenKey[] {
  return (JSON.parse(text) as { id: number; key: string }[]).map((k) => ({
    id: k.id,
    key: Buffer.from(k.key, 'base64'),
  }));
}

export function createTokenKeys(db: DbHandle, maxActiveKeys: number) {
  let ring: TokenKeyRing | undefined;
  let ringLoadedAt = 0;

  async function loadRing(): Promise<TokenKeyRing> {
    let text = await meta.getMeta(db, KEYS_META);
    if (!text) {
      // First start: a primary and a staged key, like keystone-manage fernet_setup.
      await meta.insertMetaIfAbsent(db, KEYS_META, encodeKeys([newTokenKey(1), newTokenKey(2)]));
      text = (await meta.getMeta(db, KEYS_META))!;
    }
    ring = new TokenKeyRing(decodeKeys(text));
    ringLoadedAt = Date.now();
    return ring;
  }

  return {
    /** The ring to seal with, or to open `token` with. */
    async keyRing(token?: string): Promise<TokenKeyRing> {
      const r = ring ?? (await loadRing());
      // Another replica may have rotated: reload when a token names a key we do not hold, and
      // periodically so this replica starts sealing with the new primary.
      const keyId = token ? TokenKeyRing.keyIdOf(token) : undefined;
      if (
        (keyId !== undefined && !r.has(keyId) && Date.now() - ringLoadedAt > 1000) ||
        Date.now() - ringLoadedAt > 60_000
      )
        return loadRing();
      return r;
    },

    /** Makes a new staged key, promotes the old staged one to primary, drops the oldest beyond the limit. */
    async rotate(): Promise<{ primary: number; keys: number[] }> {
      const current = decodeKeys((await meta.getMeta(db, KEYS_META)) ?? encodeKeys([]));
      const nextId = Math.max(0, ...current.map((k) => k.id)) + 1;
      const keys = [...current, newTokenKey(nextId)]
        .sort((a, b) => a.id - b.id)
        .slice(-Math.max(3, maxActiveKeys));
      await meta.setMeta(db, KEYS_META, encodeKeys(keys));
      const r = await loadRing();
      return { primary: r.primaryId, keys: keys.map((k) => k.id) };
    },
  };
}

export type TokenKeys = ReturnType<typeof createTokenKeys>;
