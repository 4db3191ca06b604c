import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword } from './password.ts';

const CHEAP = { memoryKiB: 1024, passes: 1, parallelism: 1 };

test('a hashed password verifies, a wrong one does not', async () => {
  const h = await hashPassword('s3cret pässword', CHEAP);
  assert.match(h, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  assert.equal(await verifyPassword('s3cret pässword', h), true);
  assert.equal(await verifyPassword('s3cret password', h), false);
  assert.equal(await verifyPassword('', h), false);
});

test('two hashes of one password differ (random salt)', async () => {
  assert.notEqual(await hashPassword('x', CHEAP), await hashPassword('x', CHEAP));
});

test('a malformed stored hash never verifies', async () => {
  assert.equal(await verifyPassword('x', 'not-a-hash'), false);
  assert.equal(await verifyPassword('x', '$argon2id$v=19$m=1,t=1,p=1$$'), false);
});

test('the default parameters are the strong ones', async () => {
  const h = await hashPassword('x');
  assert.match(h, /\$m=65536,t=3,p=4\$/);
});

test('many verifications at once all complete correctly (they queue, one per core)', async () => {
  const h = await hashPassword('right', CHEAP);
  const results = await Promise.all(
    Array.from({ length: 24 }, (_, i) => verifyPassword(i % 3 === 0 ? 'right' : 'wrong', h)),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 24 }, (_, i) => i % 3 === 0),
  );
});
