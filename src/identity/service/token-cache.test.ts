// The token cache on its own, with a fake generation and resolver: a context is reused only while
// the generation read for this very validation is the one it was built under, never past the
// token's expiry or the age limit; failures are not remembered; a burst builds once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthContext } from '../../platform/auth/context.ts';
import { createTokenCache, type TokenCacheOptions } from './token-cache.ts';

function context(token: string, expiresAt: number): AuthContext {
  return { token, expiresAt, roles: [{ id: 'r', name: 'member' }] } as unknown as AuthContext;
}

function harness(opts: Partial<TokenCacheOptions> = {}) {
  const state = { generation: 1, time: 1000, expiresAt: 100_000, builds: 0, reads: 0 };
  const invalid = new Set<string>();
  const cache = createTokenCache({
    generation: async () => {
      state.reads++;
      return state.generation;
    },
    resolve: async (token) => {
      state.builds++;
      await new Promise((r) => setImmediate(r));
      return invalid.has(token) ? 'revoked' : context(token, state.expiresAt);
    },
    now: () => state.time,
    ...opts,
  });
  return { cache, state, invalid };
}

describe('token cache', () => {
  it('reuses a context while the generation stands, reading the generation every time', async () => {
    const { cache, state } = harness();
    const first = await cache.resolve('t');
    assert.equal(await cache.resolve('t'), first);
    assert.equal(await cache.resolve('t'), first);
    assert.equal(state.builds, 1);
    assert.equal(state.reads, 3);
  });

  it('hands out a remembered context frozen, since every request with the token shares it', async () => {
    const { cache } = harness();
    const ctx = await cache.resolve('t');
    assert.ok(Object.isFrozen(ctx));
    assert.throws(() => {
      (ctx as { token: string }).token = 'other';
    }, TypeError);
  });

  it('builds again once the generation moved, and drops every older context', async () => {
    const { cache, state, invalid } = harness();
    await cache.resolve('t');
    await cache.resolve('u');
    assert.equal(cache.size, 2);
    invalid.add('t');
    state.generation = 2;
    assert.equal(await cache.resolve('t'), 'revoked');
    assert.equal(cache.size, 0);
    assert.equal(state.builds, 3);
  });

  it('does not remember a token without a context', async () => {
    const { cache, state, invalid } = harness();
    invalid.add('t');
    assert.equal(await cache.resolve('t'), 'revoked');
    assert.equal(await cache.resolve('t'), 'revoked');
    assert.equal(state.builds, 2);
    assert.equal(cache.size, 0);
  });

  it('never serves a context past its token expiry or the age limit', async () => {
    const { cache, state } = harness({ maxAgeMs: 5000 });
    state.expiresAt = 3000;
    await cache.resolve('t');
    state.time = 2999;
    await cache.resolve('t');
    assert.equal(state.builds, 1);
    state.time = 3000;
    await cache.resolve('t');
    assert.equal(state.builds, 2, 'rebuilt at expiry, so token-context.ts says "expired"');
    state.expiresAt = 100_000;
    await cache.resolve('t');
    state.time = 3000 + 4999;
    await cache.resolve('t');
    assert.equal(state.builds, 3);
    state.time = 3000 + 5000;
    await cache.resolve('t');
    assert.equal(state.builds, 4, 'rebuilt at the age limit');
  });

  it('builds a burst of one token once, and does not join a build of an older generation', async () => {
    const { cache, state } = harness();
    const burst = await Promise.all([1, 2, 3, 4].map(() => cache.resolve('t')));
    assert.equal(state.builds, 1);
    assert.ok(burst.every((c) => c === burst[0]));
    state.generation = 2;
    const older = cache.resolve('t');
    await new Promise((r) => setImmediate(r));
    state.generation = 3;
    await Promise.all([older, cache.resolve('t')]);
    assert.equal(state.builds, 3, 'the generation 3 request built its own');
  });

  it('does not keep what a build under an older generation returned', async () => {
    let release!: () => void;
    let generation = 1;
    const cache = createTokenCache({
      generation: async () => generation,
      resolve: async (token) => {
        if (token === 'slow') await new Promise<void>((r) => (release = r));
        return context(token, Number.MAX_SAFE_INTEGER);
      },
    });
    const slow = cache.resolve('slow');
    await new Promise((r) => setImmediate(r));
    generation = 2;
    await cache.resolve('other');
    release();
    await slow;
    assert.equal(cache.size, 1, 'only the generation 2 context');
  });

  it('keeps at most maxEntries contexts, dropping the oldest', async () => {
    const { cache, state } = harness({ maxEntries: 2 });
    await cache.resolve('a');
    await cache.resolve('b');
    await cache.resolve('c');
    assert.equal(cache.size, 2);
    await cache.resolve('c');
    await cache.resolve('b');
    assert.equal(state.builds, 3);
    await cache.resolve('a');
    assert.equal(state.builds, 4);
  });
});
