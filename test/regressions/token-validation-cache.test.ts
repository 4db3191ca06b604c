// Issue 15, item 17: a token's validation is remembered, so a repeated one reads only the identity
// generation from the database, and still every change that matters (a revoke, a role unassigned,
// an implication dropped, a group left, a user disabled, a password changed, a project or domain
// disabled, an application credential deleted) takes effect on the very next request, on the API
// that made the change and on another API process sharing its database (here in-process, on a
// SQLite file or PostgreSQL, with no bus between them; test/e2e/scale-out-token-cache.test.ts
// starts real processes).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCloud, type Cloud } from '../../src/cli/cloud.ts';
import { silentLogger } from '../../src/platform/log.ts';
import { ADMIN_PASSWORD, startTestCloud, testConfig } from '../support/cloud.ts';
import { freshPostgres } from '../support/databases.ts';
import { Api, adminApi, projectUser } from '../support/client.ts';

/** Two clouds (two API processes, as far as identity knows) on one database, with no bus. */
async function twoClouds(): Promise<{ a: Cloud; b: Cloud; close(): Promise<void> }> {
  const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
  const dir = mkdtempSync(join(tmpdir(), 'nubes-two-apis-'));
  const pg = pgUrl ? await freshPostgres(pgUrl) : undefined;
  const url = pg?.url ?? join(dir, 'nubes.db');
  const a = await buildCloud(testConfig(url), silentLogger(), { adminPassword: ADMIN_PASSWORD });
  const b = await buildCloud(testConfig(url), silentLogger(), { adminPassword: ADMIN_PASSWORD });
  return {
    a,
    b,
    async close() {
      await b.close();
      await a.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What the user's token can still do on `app`: its own validation's status and roles. */
async function validate(app: Cloud['app'], token: string) {
  const r = await new Api(app, token).req('GET', '/auth/tokens', undefined, {
    'x-subject-token': token,
  });
  return {
    status: r.status,
    roles: r.status === 200 ? (r.body.token.roles as { name: string }[]).map((x) => x.name) : [],
  };
}

/** Validates `token` on `app` until it is surely remembered there (twice, and through image). */
async function warm(app: Cloud['app'], token: string): Promise<void> {
  for (let i = 0; i < 2; i++) assert.equal((await validate(app, token)).status, 200);
  // Authenticated, whatever the policy then says of the token's roles.
  assert.notEqual((await new Api(app, token, '/image').get('/v2/images')).status, 401);
}

async function roleId(admin: Api, name: string): Promise<string> {
  const found = (await admin.get(`/roles?name=${name}`)).body.roles[0];
  if (found) return found.id;
  const made = await admin.post('/roles', { role: { name } });
  assert.equal(made.status, 201);
  return made.body.role.id;
}

/** The changes that matter, each made through `changer` and checked on `checker` at once. */
function changesTakeEffect(clouds: () => { changer: Cloud; checker: Cloud }, tag: string) {
  let admin: Api;
  let n = 0;
  const user = async (role = 'member') => {
    const u = await projectUser(admin, `${tag}-${++n}`, role);
    await warm(clouds().checker.app, u.api.token!);
    return u;
  };
  before(async () => {
    admin = await adminApi(clouds().changer.app);
  });

  it('a revoke (DELETE /v3/auth/tokens) refuses the token on the next request', async () => {
    const u = await user();
    const r = await new Api(clouds().changer.app, u.api.token).req(
      'DELETE',
      '/auth/tokens',
      undefined,
      { 'x-subject-token': u.api.token! },
    );
    assert.equal(r.status, 204);
    const next = await new Api(clouds().checker.app, u.api.token, '/image').get('/v2/images');
    assert.equal(next.status, 401, 'image refuses the revoked token at once');
    assert.equal((await validate(clouds().checker.app, u.api.token!)).status, 401);
  });

  it('a role unassigned is gone from the next validation; the last one refuses the token', async () => {
    const u = await user();
    const observer = await roleId(admin, `${tag}-observer`);
    const member = await roleId(admin, 'member');
    const grant = `/projects/${u.projectId}/users/${u.userId}/roles`;
    assert.equal((await admin.put(`${grant}/${observer}`)).status, 204);
    const checker = clouds().checker.app;
    assert.ok((await validate(checker, u.api.token!)).roles.includes(`${tag}-observer`));
    await warm(checker, u.api.token!);
    assert.equal((await admin.del(`${grant}/${observer}`)).status, 204);
    assert.deepEqual((await validate(checker, u.api.token!)).roles.sort(), ['member', 'reader']);
    assert.equal((await admin.del(`${grant}/${member}`)).status, 204);
    assert.equal((await validate(checker, u.api.token!)).status, 401);
  });

  it('an implied role added or removed shows on the next validation', async () => {
    const prior = await roleId(admin, `${tag}-prior`);
    const u = await user(`${tag}-prior`);
    const implied = await roleId(admin, `${tag}-implied`);
    const checker = clouds().checker.app;
    assert.deepEqual((await validate(checker, u.api.token!)).roles, [`${tag}-prior`]);
    assert.equal((await admin.put(`/roles/${prior}/implies/${implied}`)).status, 201);
    assert.deepEqual((await validate(checker, u.api.token!)).roles.sort(), [
      `${tag}-implied`,
      `${tag}-prior`,
    ]);
    assert.equal((await admin.del(`/roles/${prior}/implies/${implied}`)).status, 204);
    assert.deepEqual((await validate(checker, u.api.token!)).roles, [`${tag}-prior`]);
  });

  it('leaving the group that gave the role refuses the token on the next request', async () => {
    const u = await user();
    const member = await roleId(admin, 'member');
    const g = (await admin.post('/groups', { group: { name: `${tag}-group` } })).body.group.id;
    assert.equal((await admin.put(`/groups/${g}/users/${u.userId}`)).status, 204);
    const byGroup = `/projects/${u.projectId}/groups/${g}/roles/${member}`;
    assert.equal((await admin.put(byGroup)).status, 204);
    assert.equal(
      (await admin.del(`/projects/${u.projectId}/users/${u.userId}/roles/${member}`)).status,
      204,
    );
    await warm(clouds().checker.app, u.api.token!);
    assert.equal((await admin.del(`/groups/${g}/users/${u.userId}`)).status, 204);
    assert.equal((await validate(clouds().checker.app, u.api.token!)).status, 401);
  });

  it('a disabled user is refused on the next request', async () => {
    const u = await user();
    assert.equal(
      (await admin.patch(`/users/${u.userId}`, { user: { enabled: false } })).status,
      200,
    );
    const next = await new Api(clouds().checker.app, u.api.token, '/compute').get('/v2.1/servers');
    assert.equal(next.status, 401, 'compute refuses the disabled user at once');
  });

  it("a password change refuses the user's tokens on the next request", async () => {
    const u = await user();
    const changed = await new Api(clouds().changer.app, u.api.token).post(
      `/users/${u.userId}/password`,
      { user: { original_password: `${tag}-${n}-pw`, password: 'a-new-password' } },
    );
    assert.equal(changed.status, 204);
    assert.equal((await validate(clouds().checker.app, u.api.token!)).status, 401);
  });

  it('a disabled project or domain refuses its tokens on the next request', async () => {
    const u = await user();
    assert.equal(
      (await admin.patch(`/projects/${u.projectId}`, { project: { enabled: false } })).status,
      200,
    );
    assert.equal((await validate(clouds().checker.app, u.api.token!)).status, 401);

    const d = (await admin.post('/domains', { domain: { name: `${tag}-domain` } })).body.domain;
    const p = (await admin.post('/projects', { project: { name: 'p', domain_id: d.id } })).body
      .project;
    const du = (
      await admin.post('/users', { user: { name: 'du', domain_id: d.id, password: 'du-pw' } })
    ).body.user;
    const member = await roleId(admin, 'member');
    assert.equal((await admin.put(`/projects/${p.id}/users/${du.id}/roles/${member}`)).status, 204);
    const login = await new Api(clouds().changer.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { id: du.id, password: 'du-pw' } },
        },
        scope: { project: { id: p.id } },
      },
    });
    assert.equal(login.status, 201);
    const token = login.headers['x-subject-token'] as string;
    await warm(clouds().checker.app, token);
    assert.equal(
      (await admin.patch(`/domains/${d.id}`, { domain: { enabled: false } })).status,
      200,
    );
    assert.equal((await validate(clouds().checker.app, token)).status, 401);
  });

  it('a deleted application credential refuses its tokens on the next request', async () => {
    const u = await user();
    const made = await u.api.post(`/users/${u.userId}/application_credentials`, {
      application_credential: { name: 'ac' },
    });
    assert.equal(made.status, 201);
    const ac = made.body.application_credential;
    const login = await new Api(clouds().changer.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: ac.id, secret: ac.secret },
        },
      },
    });
    assert.equal(login.status, 201);
    const token = login.headers['x-subject-token'] as string;
    await warm(clouds().checker.app, token);
    assert.equal(
      (await u.api.del(`/users/${u.userId}/application_credentials/${ac.id}`)).status,
      204,
    );
    assert.equal((await validate(clouds().checker.app, token)).status, 401);
  });
}

describe('token validation cache: one API', () => {
  let cloud: Cloud;
  before(async () => {
    cloud = await startTestCloud();
  });
  after(() => cloud.close());

  it('a repeated validation reads the database once per token, not every fact again', async () => {
    const admin = await adminApi(cloud.app);
    const u = await projectUser(admin, 'counted');
    await warm(cloud.app, u.api.token!);
    // Every statement this cloud sends to its database, from here on.
    const executor = cloud.database.db.getExecutor();
    const original = executor.executeQuery.bind(executor);
    let statements = 0;
    executor.executeQuery = ((...args: Parameters<typeof original>) => {
      statements++;
      return original(...args);
    }) as typeof executor.executeQuery;
    try {
      for (let i = 0; i < 20; i++)
        assert.equal((await validate(cloud.app, u.api.token!)).status, 200);
    } finally {
      executor.executeQuery = original;
    }
    // Two tokens each time (the caller's and the subject), one generation read for each; the
    // catalog, cached for 2 s, may be read once more.
    assert.ok(statements <= 20 * 2 + 2, `${statements} statements for 20 validations`);
  });

  changesTakeEffect(() => ({ changer: cloud, checker: cloud }), 'one');
});

describe('token validation cache: two API processes on one database, no bus between them', () => {
  let two: Awaited<ReturnType<typeof twoClouds>>;
  before(async () => {
    two = await twoClouds();
  });
  after(() => two.close());

  changesTakeEffect(() => ({ changer: two.a, checker: two.b }), 'two');
});
