// What a client sees before and around authentication: Keystone's version documents, the health
// check, request ids on every response, 401 with WWW-Authenticate, and domain and system scope.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api, adminApi } from '../support/client.ts';

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('identity discovery and scope', () => {
  let cloud: TestCloud;
  let admin: Api;
  before(async () => {
    cloud = await startTestCloud();
    admin = await adminApi(cloud.app);
  });
  after(() => cloud.close());

  const version = {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: 'http://nubes.test/identity/v3/' }],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' },
    ],
  };

  it('the root and /identity answer 300 with the versions; /identity/v3 describes v3', async () => {
    for (const url of ['/', '/identity', '/identity/']) {
      const r = await cloud.app.inject({ url });
      assert.equal(r.statusCode, 300, url);
      assert.deepEqual(JSON.parse(r.body), { versions: { values: [version] } }, url);
    }
    for (const url of ['/identity/v3', '/identity/v3/']) {
      const r = await cloud.app.inject({ url });
      assert.equal(r.statusCode, 200, url);
      assert.deepEqual(JSON.parse(r.body), { version }, url);
    }
  });

  it('every response carries an x-openstack-request-id, errors and the health check included', async () => {
    const seen = new Set<string>();
    for (const [method, url] of [
      ['GET', '/healthcheck'],
      ['GET', '/identity/v3'],
      ['GET', '/identity/v3/users'],
      ['GET', '/nowhere'],
      ['POST', '/identity/v3/auth/tokens'],
    ] as const) {
      const r = await cloud.app.inject({
        method,
        url,
        ...(method === 'POST'
          ? { headers: { 'content-type': 'application/json' }, payload: '{bad' }
          : {}),
      });
      const id = r.headers['x-openstack-request-id'] as string;
      assert.match(id, REQUEST_ID, `${method} ${url}`);
      seen.add(id);
    }
    assert.equal(seen.size, 5, 'each request has its own id');
    const health = await cloud.app.inject({ url: '/healthcheck' });
    assert.equal(health.statusCode, 200);
  });

  it("a request without a token is a 401 in Keystone's format with WWW-Authenticate", async () => {
    const r = await new Api(cloud.app).get('/projects');
    assert.equal(r.status, 401);
    // Keystone names its base URL, without the version (devstack: Keystone uri="http://host/identity").
    assert.equal(r.headers['www-authenticate'], 'Keystone uri="http://nubes.test/identity"');
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'title']);
    assert.equal(r.body.error.title, 'Unauthorized');
  });

  it('issues domain-scoped and system-scoped tokens to who holds a role there, and refuses others', async () => {
    const sys = await new Api(cloud.app).req('POST', '/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: { name: 'admin', domain: { id: 'default' }, password: 'admin-test-password' },
          },
        },
        scope: { system: { all: true } },
      },
    });
    assert.equal(sys.status, 201);
    assert.deepEqual(sys.body.token.system, { all: true });
    assert.ok(sys.body.token.roles.some((r: any) => r.name === 'admin'));

    const dom = await admin.post('/domains', { domain: { name: 'scoped-dom' } });
    const user = await admin.post('/users', {
      user: { name: 'dom-admin', password: 'pw', domain_id: 'default' },
    });
    const domainToken = (scope: unknown) =>
      new Api(cloud.app).req('POST', '/auth/tokens', {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'dom-admin', domain: { id: 'default' }, password: 'pw' } },
          },
          scope,
        },
      });
    assert.equal(
      (await domainToken({ domain: { name: 'scoped-dom' } })).status,
      401,
      'no role on the domain yet',
    );
    const roles = (await admin.get('/roles?name=member')).body.roles;
    assert.equal(
      (
        await admin.put(
          `/domains/${dom.body.domain.id}/users/${user.body.user.id}/roles/${roles[0].id}`,
        )
      ).status,
      204,
    );
    const d = await domainToken({ domain: { name: 'scoped-dom' } });
    assert.equal(d.status, 201);
    assert.equal(d.body.token.domain.id, dom.body.domain.id);
    assert.equal(d.body.token.project, undefined);
    assert.equal(
      (await domainToken({ system: { all: true } })).status,
      401,
      'no role on the system',
    );
  });
});
