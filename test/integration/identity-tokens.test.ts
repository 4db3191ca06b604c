// Identity tokens through the HTTP API: password, re-scope, application credentials, validation,
// revocation, key rotation, and the faults Keystone's clients expect.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api, adminApi } from '../support/client.ts';

describe('identity tokens', () => {
  let cloud: TestCloud;
  let admin: Api;
  let projectId: string;
  let userId: string;

  before(async () => {
    cloud = await startTestCloud();
    admin = await adminApi(cloud.app);
    projectId = (await admin.post('/projects', { project: { name: 'alpha' } })).body.project.id;
    userId = (
      await admin.post('/users', {
        user: { name: 'alice', password: 'alice-pw', default_project_id: projectId },
      })
    ).body.user.id;
    const member = (await admin.get('/roles?name=member')).body.roles[0].id;
    assert.equal(
      (await admin.put(`/projects/${projectId}/users/${userId}/roles/${member}`)).status,
      204,
    );
  });
  after(() => cloud.close());

  it('issues a project token with roles (implied included) and the catalog', async () => {
    const r = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'alice', domain: { name: 'Default' }, password: 'alice-pw' } },
        },
        scope: { project: { id: projectId } },
      },
    });
    assert.equal(r.status, 201);
    assert.ok(r.headers['x-subject-token']);
    assert.equal(r.body.token.project.id, projectId);
    assert.deepEqual(r.body.token.roles.map((x: any) => x.name).sort(), ['member', 'reader']);
    const identity = r.body.token.catalog.find((s: any) => s.type === 'identity');
    assert.ok(
      identity?.endpoints.some(
        (e: any) => e.interface === 'public' && e.url === 'http://nubes.test/identity',
      ),
      'the catalog names the identity endpoint',
    );
    assert.match(r.body.token.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('falls back to the default project, and gives an unscoped token when asked', async () => {
    const alice = await new Api(cloud.app).login('alice', 'alice-pw');
    const v = await admin.req('GET', '/auth/tokens', undefined, {
      'x-subject-token': alice.token!,
    });
    assert.equal(v.body.token.project.id, projectId);
    const u = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { id: userId, password: 'alice-pw' } },
        },
        scope: 'unscoped',
      },
    });
    assert.equal(u.status, 201);
    assert.equal(u.body.token.project, undefined);
    assert.equal(u.body.token.catalog, undefined);
  });

  it('rejects a wrong password, an unknown user and a project without roles with 401', async () => {
    const anon = new Api(cloud.app);
    for (const [user, pw, scope] of [
      ['alice', 'nope', undefined],
      ['nobody', 'x', undefined],
      ['alice', 'alice-pw', { project: { name: 'admin', domain: { id: 'default' } } }],
    ] as const) {
      const r = await anon.post('/auth/tokens', {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { id: 'default' }, password: pw } },
          },
          ...(scope ? { scope } : {}),
        },
      });
      assert.equal(r.status, 401, `${user}/${pw}`);
      assert.equal(r.body.error.code, 401);
      assert.equal(r.body.error.title, 'Unauthorized');
      assert.match(String(r.headers['www-authenticate']), /^Keystone uri=/);
    }
  });

  it('re-scopes with a token (no password), keeping expiry and chaining audit ids', async () => {
    const unscoped = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { id: userId, password: 'alice-pw' } },
        },
        scope: 'unscoped',
      },
    });
    const r = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: { methods: ['token'], token: { id: unscoped.headers['x-subject-token'] } },
        scope: { project: { id: projectId } },
      },
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.token.expires_at, unscoped.body.token.expires_at);
    assert.deepEqual(r.body.token.methods.sort(), ['password', 'token']);
    assert.equal(r.body.token.audit_ids[1], unscoped.body.token.audit_ids[0]);
  });

  it('validates with X-Subject-Token; a revoked token is then 404 to validate and 401 to use', async () => {
    const alice = await new Api(cloud.app).login('alice', 'alice-pw');
    assert.equal((await alice.get(`/users/${userId}`)).status, 200, 'a user may read themself');
    const check = await alice.req('HEAD', '/auth/tokens', undefined, {
      'x-subject-token': alice.token!,
    });
    assert.equal(check.status, 200);
    assert.equal(
      (await alice.req('DELETE', '/auth/tokens', undefined, { 'x-subject-token': alice.token! }))
        .status,
      204,
    );
    assert.equal(
      (await admin.req('GET', '/auth/tokens', undefined, { 'x-subject-token': alice.token! }))
        .status,
      404,
    );
    assert.equal((await alice.get(`/users/${userId}`)).status, 401);
  });

  it("a user cannot validate another user's token", async () => {
    const alice = await new Api(cloud.app).login('alice', 'alice-pw');
    const r = await alice.req('GET', '/auth/tokens', undefined, {
      'x-subject-token': admin.token!,
    });
    assert.equal(r.status, 403);
  });

  it("a password change revokes the user's tokens", async () => {
    await admin.post('/users', { user: { name: 'bob', password: 'bob-pw-1' } });
    const bob = await new Api(cloud.app).login('bob', 'bob-pw-1');
    const bobId = (
      await bob.req('GET', '/auth/tokens', undefined, { 'x-subject-token': bob.token! })
    ).body.token.user.id;
    assert.equal(
      (
        await bob.post(`/users/${bobId}/password`, {
          user: { original_password: 'wrong', password: 'bob-pw-2' },
        })
      ).status,
      401,
    );
    assert.equal(
      (
        await bob.post(`/users/${bobId}/password`, {
          user: { original_password: 'bob-pw-1', password: 'bob-pw-2' },
        })
      ).status,
      204,
    );
    assert.equal(
      (await bob.req('GET', '/auth/tokens', undefined, { 'x-subject-token': bob.token! })).status,
      401,
    );
    await new Api(cloud.app).login('bob', 'bob-pw-2');
    await assert.rejects(new Api(cloud.app).login('bob', 'bob-pw-1'));
  });

  it('application credentials authenticate, delegate only the chosen roles, and die with deletion', async () => {
    const alice = await new Api(cloud.app).login('alice', 'alice-pw', {
      project: { id: projectId },
    });
    const created = await alice.post(`/users/${userId}/application_credentials`, {
      application_credential: { name: 'ci', roles: [{ name: 'reader' }] },
    });
    assert.equal(created.status, 201);
    const { id, secret } = created.body.application_credential;
    assert.ok(secret && secret.length > 40);
    const listed = await alice.get(`/users/${userId}/application_credentials`);
    assert.equal(
      listed.body.application_credentials[0].secret,
      undefined,
      'the secret is shown only once',
    );
    const auth = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: { methods: ['application_credential'], application_credential: { id, secret } },
      },
    });
    assert.equal(auth.status, 201);
    assert.equal(auth.body.token.project.id, projectId);
    assert.deepEqual(
      auth.body.token.roles.map((r: any) => r.name),
      ['reader'],
    );
    assert.equal(auth.body.token.application_credential.id, id);
    const byName = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: {
            name: 'ci',
            user: { name: 'alice', domain: { id: 'default' } },
            secret,
          },
        },
      },
    });
    assert.equal(byName.status, 201);
    const wrong = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id, secret: 'x' },
        },
      },
    });
    assert.equal(wrong.status, 401);
    const forbidden = await alice.post(`/users/${userId}/application_credentials`, {
      application_credential: { name: 'too-much', roles: [{ name: 'admin' }] },
    });
    assert.equal(forbidden.status, 403);
    const appToken = auth.headers['x-subject-token'] as string;
    assert.equal((await alice.del(`/users/${userId}/application_credentials/${id}`)).status, 204);
    assert.equal(
      (await admin.req('GET', '/auth/tokens', undefined, { 'x-subject-token': appToken })).status,
      404,
    );
  });

  it('a rotation keeps existing tokens valid; with 3 keys kept, the second prunes their key', async () => {
    const before = admin.token!;
    await cloud.identity.tokens.rotateKeys();
    assert.equal((await admin.get('/users')).status, 200, 'the old primary key is still accepted');
    const fresh = await adminApi(cloud.app);
    assert.equal((await fresh.get('/users')).status, 200);
    await cloud.identity.tokens.rotateKeys();
    assert.equal(
      (await new Api(cloud.app, before).get('/users')).status,
      401,
      'a token under a pruned key is gone',
    );
    assert.equal(
      (await fresh.get('/users')).status,
      200,
      'the token under the previous primary survives',
    );
    admin = fresh;
  });

  it('an expired token is refused', async () => {
    const short = await startTestCloud({ NUBES_TOKEN_TTL_SECONDS: '1' });
    try {
      const a = await adminApi(short.app);
      assert.equal((await a.get('/users')).status, 200);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await a.get('/users')).status, 401);
    } finally {
      await short.close();
    }
  });
});
