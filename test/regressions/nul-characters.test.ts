// Found by the identity fuzzer (seed 658309): `HEAD /roles/%00` was a 500 on PostgreSQL, which
// cannot hold a NUL in text. A NUL in the URL or in any JSON string is now a 400 in Keystone's
// format on every database, and nothing is stored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api, adminApi } from '../support/client.ts';

describe(`NUL characters (${process.env['NUBES_TEST_DATABASE_URL'] ? 'PostgreSQL' : 'SQLite'})`, () => {
  let cloud: TestCloud;
  let admin: Api;
  before(async () => {
    cloud = await startTestCloud();
    admin = await adminApi(cloud.app);
  });
  after(() => cloud.close());

  it('in a path id or a query filter: 400 with a message naming the NUL', async () => {
    for (const url of [
      '/roles/%00',
      '/projects/ab%00cd',
      '/users?name=x%00',
      '/projects?name=%00',
    ]) {
      for (const method of ['GET', 'HEAD', 'PATCH', 'DELETE']) {
        const r = await admin.req(method, url, method === 'PATCH' ? { project: {} } : undefined);
        assert.equal(r.status, 400, `${method} ${url}`);
        if (method !== 'HEAD') {
          assert.equal(r.body.error.code, 400);
          assert.match(r.body.error.message, /NUL/);
        }
      }
    }
  });

  it('in a JSON string value or key: 400, and nothing is created', async () => {
    const before = (await admin.get('/projects')).body.projects.length;
    const r = await admin.post('/projects', { project: { name: 'evil\u0000name' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.title, 'Bad Request');
    assert.match(r.body.error.message, /NUL/);
    const k = await admin.post('/projects', '{"project": {"name": "ok", "x\\u0000": 1}}');
    assert.equal(k.status, 400);
    assert.equal((await admin.get('/projects')).body.projects.length, before);
    const auth = await new Api(cloud.app).post('/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin\u0000', domain: { id: 'default' }, password: 'x' } },
        },
      },
    });
    assert.equal(auth.status, 400);
  });
});
