// Keystone's opt-in account lockout and password rules (identity.security_compliance.*) over HTTP:
// each rule on a cloud that turns it on, and none of them on a cloud with the defaults. Time moves by
// shifting Date.now (no sleeps): locks, expiry and inactivity are all measured with it.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api, adminApi } from '../support/client.ts';

const realNow = Date.now;
let skew = 0;
/** Moves the cloud's clock (Date.now) forward by `ms`. */
function advance(ms: number): void {
  skew += ms;
  Date.now = () => realNow() + skew;
}
const DAY = 86_400_000;

/** A password sign-in's answer, unscoped. */
async function signIn(cloud: TestCloud, name: string, password: string) {
  return new Api(cloud.app).post('/auth/tokens', {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name, domain: { id: 'default' }, password } },
      },
    },
  });
}

/** The user's own password change (POST /v3/users/{id}/password), without a token. */
async function changeOwn(cloud: TestCloud, id: string, original: string, password: string) {
  return new Api(cloud.app).post(`/users/${id}/password`, {
    user: { original_password: original, password },
  });
}

async function createUser(admin: Api, user: Record<string, unknown>): Promise<string> {
  const r = await admin.post('/users', { user: { domain_id: 'default', ...user } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.user.id;
}

afterEach(() => {
  Date.now = realNow;
  skew = 0;
});

describe('identity password rules: all off by default', () => {
  let cloud: TestCloud;
  let admin: Api;
  before(async () => {
    cloud = await startTestCloud();
    admin = await adminApi(cloud.app);
  });
  after(() => cloud.close());

  it('locks nobody, refuses no password, never expires one and keeps no history', async () => {
    const id = await createUser(admin, { name: 'plain', password: 'a' });
    const shown = (await admin.get(`/users/${id}`)).body.user;
    assert.equal(shown.password_expires_at, null);
    assert.deepEqual(shown.options, {});
    for (let i = 0; i < 8; i++) assert.equal((await signIn(cloud, 'plain', 'wrong')).status, 401);
    assert.equal((await signIn(cloud, 'plain', 'a')).status, 201, 'no lockout');
    assert.equal((await changeOwn(cloud, id, 'a', 'a')).status, 204, 'no history');
    assert.equal((await changeOwn(cloud, id, 'a', 'b')).status, 204, 'no minimum age');
    advance(3650 * DAY);
    assert.equal((await signIn(cloud, 'plain', 'b')).status, 201, 'no expiry, no inactivity');
    const rows = await cloud.database.db.selectFrom('password_history').selectAll().execute();
    assert.deepEqual(rows, [], 'no earlier password is kept');
  });
});

describe('identity password rules: lockout', () => {
  let cloud: TestCloud;
  let admin: Api;
  before(async () => {
    cloud = await startTestCloud({
      NUBES_LOCKOUT_FAILURE_ATTEMPTS: '3',
      NUBES_LOCKOUT_DURATION: '60',
    });
    admin = await adminApi(cloud.app);
  });
  after(() => cloud.close());

  it('locks a user after N failures, even against the right password, until the duration ends', async () => {
    await createUser(admin, { name: 'guessed', password: 'right-pw' });
    for (let i = 0; i < 3; i++)
      assert.equal((await signIn(cloud, 'guessed', `guess-${i}`)).status, 401);
    const locked = await signIn(cloud, 'guessed', 'right-pw');
    assert.equal(locked.status, 401);
    // As Keystone: the answer says no more than any failed sign-in does.
    assert.equal(locked.body.error.message, 'The request you have made requires authentication.');
    advance(59_000);
    assert.equal((await signIn(cloud, 'guessed', 'right-pw')).status, 401, 'still locked');
    advance(2_000);
    assert.equal((await signIn(cloud, 'guessed', 'right-pw')).status, 201, 'unlocked');
  });

  it('counts only failures in a row: a success starts the count again', async () => {
    await createUser(admin, { name: 'clumsy', password: 'right-pw' });
    for (let i = 0; i < 2; i++) await signIn(cloud, 'clumsy', 'typo');
    assert.equal((await signIn(cloud, 'clumsy', 'right-pw')).status, 201);
    for (let i = 0; i < 2; i++) await signIn(cloud, 'clumsy', 'typo');
    assert.equal((await signIn(cloud, 'clumsy', 'right-pw')).status, 201);
  });

  it('an administrator setting enabled unlocks; ignore_lockout_failure_attempts exempts', async () => {
    const id = await createUser(admin, { name: 'unlocked', password: 'right-pw' });
    for (let i = 0; i < 3; i++) await signIn(cloud, 'unlocked', 'bad');
    assert.equal((await signIn(cloud, 'unlocked', 'right-pw')).status, 401);
    assert.equal((await admin.patch(`/users/${id}`, { user: { enabled: true } })).status, 200);
    assert.equal((await signIn(cloud, 'unlocked', 'right-pw')).status, 201);

    const svc = await createUser(admin, {
      name: 'service-user',
      password: 'svc-pw',
      options: { ignore_lockout_failure_attempts: true },
    });
    assert.deepEqual((await admin.get(`/users/${svc}`)).body.user.options, {
      ignore_lockout_failure_attempts: true,
    });
    for (let i = 0; i < 5; i++) await signIn(cloud, 'service-user', 'bad');
    assert.equal((await signIn(cloud, 'service-user', 'svc-pw')).status, 201);
  });

  it('wrong originals given to a password change count as failures too', async () => {
    const id = await createUser(admin, { name: 'changer', password: 'right-pw' });
    for (let i = 0; i < 3; i++)
      assert.equal((await changeOwn(cloud, id, 'bad', 'new-pw')).status, 401);
    assert.equal((await changeOwn(cloud, id, 'right-pw', 'new-pw')).status, 401, 'locked');
    assert.equal((await signIn(cloud, 'changer', 'right-pw')).status, 401);
  });

  it('refuses an option Nubes does not know', async () => {
    const r = await admin.post('/users', {
      user: { name: 'opt', options: { no_such_option: true } },
    });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /ignore_lockout_failure_attempts/);
  });
});

describe('identity password rules: strength, expiry, history, first use', () => {
  let cloud: TestCloud;
  let admin: Api;
  const rule = 'at least 8 characters with a letter and a digit';
  before(async () => {
    cloud = await startTestCloud({
      NUBES_PASSWORD_REGEX: '^(?=.*\\d)(?=.*[a-zA-Z]).{8,}$',
      NUBES_PASSWORD_REGEX_DESCRIPTION: rule,
      NUBES_PASSWORD_EXPIRES_DAYS: '30',
      NUBES_UNIQUE_LAST_PASSWORD_COUNT: '2',
      NUBES_MINIMUM_PASSWORD_AGE: '1',
      NUBES_CHANGE_PASSWORD_UPON_FIRST_USE: 'on',
    });
    admin = await adminApi(cloud.app);
  });
  after(() => cloud.close());

  it('refuses a password not matching password_regex, with its description, wherever it is set', async () => {
    const weak = await admin.post('/users', {
      user: { name: 'weak', domain_id: 'default', password: 'short1' },
    });
    assert.equal(weak.status, 400);
    assert.equal(weak.body.error.code, 400);
    assert.match(weak.body.error.message, /does not match the requirements/);
    assert.ok(weak.body.error.message.includes(rule), weak.body.error.message);
    const id = await createUser(admin, { name: 'strong', password: 'abcdefg1' });
    const patch = await admin.patch(`/users/${id}`, { user: { password: 'abcdefgh' } });
    assert.equal(patch.status, 400);
    assert.ok(patch.body.error.message.includes(rule));
    const own = await changeOwn(cloud, id, 'abcdefg1', 'onlyletters');
    assert.equal(own.status, 400);
    assert.ok(own.body.error.message.includes(rule));
  });

  it('makes a user change a password an administrator set before using it', async () => {
    const id = await createUser(admin, { name: 'newcomer', password: 'given-by-admin1' });
    const first = await signIn(cloud, 'newcomer', 'given-by-admin1');
    assert.equal(first.status, 401);
    assert.match(first.body.error.message, /The password is expired and needs to be changed/);
    assert.equal((await changeOwn(cloud, id, 'given-by-admin1', 'chosen-by-me1')).status, 204);
    const ok = await signIn(cloud, 'newcomer', 'chosen-by-me1');
    assert.equal(ok.status, 201);
    // An administrator's reset needs a change again.
    assert.equal(
      (await admin.patch(`/users/${id}`, { user: { password: 'reset-by-admin1' } })).status,
      200,
    );
    assert.equal((await signIn(cloud, 'newcomer', 'reset-by-admin1')).status, 401);
    // The reset is not the user's own: no minimum age before changing it.
    assert.equal((await changeOwn(cloud, id, 'reset-by-admin1', 'chosen-again1')).status, 204);
    assert.equal((await signIn(cloud, 'newcomer', 'chosen-again1')).status, 201);

    await createUser(admin, {
      name: 'robot',
      password: 'robot-secret1',
      options: { ignore_change_password_upon_first_use: true },
    });
    assert.equal((await signIn(cloud, 'robot', 'robot-secret1')).status, 201);
  });

  it('expires passwords after password_expires_days; an expired one can still be changed', async () => {
    await createUser(admin, {
      name: 'timeless',
      password: 'forever-pw1',
      options: { ignore_change_password_upon_first_use: true, ignore_password_expiry: true },
    });
    const id = await createUser(admin, {
      name: 'ager',
      password: 'first-pass1',
      options: { ignore_change_password_upon_first_use: true },
    });
    const expires = Date.parse(
      `${(await admin.get(`/users/${id}`)).body.user.password_expires_at}Z`,
    );
    assert.ok(Math.abs(expires - (Date.now() + 30 * DAY)) < 5_000, 'expires in 30 days');
    assert.equal((await signIn(cloud, 'ager', 'first-pass1')).status, 201);
    advance(31 * DAY);
    const expired = await signIn(cloud, 'ager', 'first-pass1');
    assert.equal(expired.status, 401);
    assert.match(expired.body.error.message, /The password is expired and needs to be changed/);
    assert.equal((await changeOwn(cloud, id, 'first-pass1', 'second-pass2')).status, 204);
    const token = await signIn(cloud, 'ager', 'second-pass2');
    assert.equal(token.status, 201);
    assert.ok(
      Date.parse(token.body.token.user.password_expires_at) > Date.now() + 29 * DAY,
      'the new password expires 30 days on',
    );
    advance(400 * DAY);
    assert.equal((await signIn(cloud, 'timeless', 'forever-pw1')).status, 201);
  });

  it('refuses a recent password, honours the minimum age, and revokes tokens on a change', async () => {
    const id = await createUser(admin, {
      name: 'historian',
      password: 'password-1',
      options: { ignore_change_password_upon_first_use: true },
    });
    const same = await changeOwn(cloud, id, 'password-1', 'password-1');
    assert.equal(same.status, 400);
    assert.match(same.body.error.message, /differ from the last 2 password/);
    const before = await new Api(cloud.app).login('historian', 'password-1');
    assert.equal((await changeOwn(cloud, id, 'password-1', 'password-2')).status, 204);
    assert.equal(
      (await before.get(`/users/${id}`)).status,
      401,
      'the token from before the change is revoked',
    );
    const young = await changeOwn(cloud, id, 'password-2', 'password-3');
    assert.equal(young.status, 400);
    assert.match(young.body.error.message, /cannot change your password yet/);
    advance(DAY + 1000);
    assert.equal((await changeOwn(cloud, id, 'password-2', 'password-1')).status, 400);
    assert.equal((await changeOwn(cloud, id, 'password-2', 'password-3')).status, 204);
    advance(DAY + 1000);
    // password-1 is now three passwords back: allowed again.
    assert.equal((await changeOwn(cloud, id, 'password-3', 'password-1')).status, 204);
    const kept = await cloud.database.db
      .selectFrom('password_history')
      .select('password_hash')
      .where('user_id', '=', id)
      .execute();
    assert.equal(kept.length, 1, 'one earlier password kept besides the current');
    assert.ok(
      kept.every((r) => r.password_hash.startsWith('$argon2id$')),
      'hashes only',
    );
  });

  it('lock_password stops a user changing their own password', async () => {
    const id = await createUser(admin, {
      name: 'kiosk',
      password: 'kiosk-pass1',
      options: { ignore_change_password_upon_first_use: true, lock_password: true },
    });
    const r = await changeOwn(cloud, id, 'kiosk-pass1', 'other-pass2');
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /administrator/);
  });
});

describe('identity password rules: inactive users', () => {
  let cloud: TestCloud;
  let admin: Api;
  before(async () => {
    cloud = await startTestCloud({ NUBES_DISABLE_USER_ACCOUNT_DAYS_INACTIVE: '2' });
    admin = await adminApi(cloud.app);
    const adminId = (await admin.get('/users?name=admin')).body.users[0].id;
    await admin.patch(`/users/${adminId}`, { user: { options: { ignore_user_inactivity: true } } });
  });
  after(() => cloud.close());

  it('refuses a user without a sign-in for N days until an administrator enables it', async () => {
    const id = await createUser(admin, { name: 'sleeper', password: 'zzz' });
    assert.equal((await signIn(cloud, 'sleeper', 'zzz')).status, 201);
    advance(DAY);
    assert.equal((await signIn(cloud, 'sleeper', 'zzz')).status, 201, 'one day is fine');
    advance(2 * DAY);
    assert.equal((await signIn(cloud, 'sleeper', 'zzz')).status, 401);
    const again = await adminApi(cloud.app);
    assert.equal((await again.patch(`/users/${id}`, { user: { enabled: true } })).status, 200);
    assert.equal((await signIn(cloud, 'sleeper', 'zzz')).status, 201);
  });
});
