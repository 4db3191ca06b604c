// What a replica remembers about tokens it validated: the context each resolved to, tagged with the
// identity generation read before it was built. Knows nothing of SQL or of how a context is built;
// tokens.ts hands it the generation reader (store/generation.ts) and the resolver (token-context.ts).
//
// Why a stale context cannot outlive a revoke, on any replica: every write a validation could see
// (a revocation event, an assignment, a role or implication, a user, group, project or domain, an
// application credential, the key ring) bumps identity_generation in the database, by trigger, in
// the write's own transaction (migration 0007), so the new value and the change commit together.
// An entry tagged g was built from reads made after g was read, so it reflects at least the state
// at g. Every validation reads the generation afresh, after its request arrived, and uses an entry
// only when that read still says g: then no such write has committed since g was read, and the
// entry's facts are still the database's.
// A revoke answered before the next request was sent has committed before that request's read, so
// the read sees a newer value and the token is resolved again from the database. No bus message,
// clock or TTL is on that path; the in-process and AMQP buses deliver after the revoke has
// answered (and two api processes on one SQLite file share no bus at all), so they could only make
// such a rule depend on timing. The age limit below is a bound on memory and on facts that change
// with time alone, not part of the argument.
import type { AuthContext } from '../../platform/auth/context.ts';

export interface TokenCacheOptions {
  /** The identity generation as the database has it now. */
  readonly generation: () => Promise<number>;
  /** Builds a token's context from the database, or says why it has none. */
  readonly resolve: (token: string) => Promise<AuthContext | string>;
  readonly now?: () => number;
  /** Contexts kept at most (the oldest go first); default 10 000. */
  readonly maxEntries?: number;
  /** How long one context is reused at most, even with no change at all; default 60 s. */
  readonly maxAgeMs?: number;
}

interface Entry {
  readonly generation: number;
  readonly ctx: AuthContext;
  /** Epoch ms after which the entry is not used: the token's expiry or the age limit. */
  readonly until: number;
}

/** A remembered context is handed to every request presenting its token: nothing may change it. */
function frozen<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) frozen(v);
  }
  return o;
}

export function createTokenCache(opts: TokenCacheOptions) {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxAgeMs = opts.maxAgeMs ?? 60_000;
  const entries = new Map<string, Entry>();
  /** Resolutions under way, so a burst of requests with one token builds its context once. */
  const building = new Map<string, { generation: number; done: Promise<AuthContext | string> }>();
  let newest = Number.NEGATIVE_INFINITY;

  function remember(token: string, generation: number, ctx: AuthContext): void {
    // A resolution that read an older generation than one seen since is already stale.
    if (generation < newest) return;
    entries.delete(token);
    const until = Math.min(ctx.expiresAt, now() + maxAgeMs);
    entries.set(token, { generation, ctx: frozen(ctx), until });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  return {
    /** The token's context as of the generation read now, or the reason it has none. */
    async resolve(token: string): Promise<AuthContext | string> {
      const generation = await opts.generation();
      if (generation > newest) {
        // Everything remembered is older than this: drop it now rather than entry by entry.
        newest = generation;
        entries.clear();
      }
      const hit = entries.get(token);
      if (hit && hit.generation === generation && now() < hit.until) return hit.ctx;
      // Joining a resolution under way is safe when it read the same generation: its reads come
      // after that generation was read, and nothing has committed since (this request's own read
      // says so).
      const under = building.get(token);
      if (under?.generation === generation) return under.done;
      const done = opts.resolve(token);
      building.set(token, { generation, done });
      try {
        const ctx = await done;
        if (typeof ctx !== 'string') remember(token, generation, ctx);
        return ctx;
      } finally {
        if (building.get(token)?.done === done) building.delete(token);
      }
    },

    /** How many contexts are remembered (for tests). */
    get size(): number {
      return entries.size;
    },
  };
}

export type TokenCache = ReturnType<typeof createTokenCache>;
