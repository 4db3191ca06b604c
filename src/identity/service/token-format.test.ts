import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenKeyRing, newTokenKey, newAuditId, type TokenClaims } from './token-format.ts';

const claims: TokenClaims = {
  userId: 'u'.repeat(32),
  methods: ['password', 'token'],
  scope: { kind: 'project', projectId: 'p'.repeat(32) },
  issuedAt: 1_700_000_000_000,
  expiresAt: 1_700_003_600_000,
  auditIds: [newAuditId()],
  appCredId: null,
};

test('a sealed token opens to the same claims', () => {
  const ring = new TokenKeyRing([newTokenKey(1), newTokenKey(2)]);
  const t = ring.seal(claims);
  assert.match(t, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(ring.open(t), claims);
  for (const scope of [
    { kind: 'unscoped' },
    { kind: 'domain', domainId: 'd' },
    { kind: 'system' },
  ] as const) {
    assert.deepEqual(ring.open(ring.seal({ ...claims, scope, appCredId: 'ac' })), {
      ...claims,
      scope,
      appCredId: 'ac',
    });
  }
});

test('tampering with any byte, or another ring, fails to open', () => {
  const ring = new TokenKeyRing([newTokenKey(1)]);
  const raw = Buffer.from(ring.seal(claims), 'base64url');
  for (let i = 0; i < raw.length; i += 7) {
    const bad = Buffer.from(raw);
    bad[i] = bad[i]! ^ 1;
    assert.equal(ring.open(bad.toString('base64url')), undefined, `byte ${i}`);
  }
  assert.equal(new TokenKeyRing([newTokenKey(1)]).open(ring.seal(claims)), undefined);
  assert.equal(ring.open(''), undefined);
  assert.equal(ring.open('not a token!'), undefined);
});

test('rotation: seal with the primary, open with any key still in the ring', () => {
  const k1 = newTokenKey(1),
    k2 = newTokenKey(2),
    k3 = newTokenKey(3);
  const before = new TokenKeyRing([k1, k2]);
  assert.equal(before.primaryId, 1, 'the newest key is staged, not used to seal');
  const old = before.seal(claims);
  const after = new TokenKeyRing([k1, k2, k3]);
  assert.equal(after.primaryId, 2);
  assert.deepEqual(after.open(old), claims);
  assert.equal(TokenKeyRing.keyIdOf(after.seal(claims)), 2);
  assert.equal(new TokenKeyRing([k2, k3]).open(old), undefined, 'a pruned key no longer opens');
});
