// Identity resources through the HTTP API: CRUD, duplicates, grants and effective assignments,
// the reader persona, project isolation, and Keystone's fault bodies for bad input.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api, adminApi } from '../support/client.ts';

describe('identity resources', () => {
  let cloud: TestCloud;
  let admin: Api;
  const roleId: Record<string, string> = {};

  before(async () => {
    cloud = await startTestCloud();
    admin = await adminApi(cloud.app);
    for (const r of (await admin.get('/roles')).body.roles) roleId[r.name] = r.id;
  });
  after(() => cloud.close());

  it('bootstrap made the three personas with admin > member > reader', async () => {
    assert.ok(roleId['admin'] && roleId['member'] && roleId['reader']);
    const inf = await admin.get('/role_inferences');
    const pairs = inf.body.role_inferences
      .flatMap((i: any) => i.implies.map((x: any) => `${i.prior_role.name}>${x.name}`))
      .sort();
    assert.deepEqual(pairs, ['admin>member', 'member>reader']);
  });

  it('creates, shows, updates, lists and deletes a domain, project, user and group', async () => {
    const d = await admin.post('/domains', { domain: { name: 'acme', description: 'ACME' } });
    assert.equal(d.status, 201);
    const domainId = d.body.domain.id;
    const p = await admin.post('/projects', {
      project: { name: 'web', domain_id: domainId, tags: ['prod'] },
    });
    assert.equal(p.status, 201);
    assert.equal(
      p.body.project.parent_id,
      domainId,
      'a top-level project names its domain as parent',
    );
    const u = await admin.post('/users', {
      user: { name: 'carol', domain_id: domainId, password: 'pw', email: 'carol@example.com' },
    });
    assert.equal(u.status, 201);
    assert.equal(u.body.user.email, 'carol@example.com');
    assert.equal(u.body.user.password, undefined);
    const g = await admin.post('/groups', { group: { name: 'ops', domain_id: domainId } });
    assert.equal(
      (await admin.put(`/groups/${g.body.group.id}/users/${u.body.user.id}`)).status,
      204,
    );
    assert.equal(
      (await admin.get(`/groups/${g.body.group.id}/users/${u.body.user.id}`)).status,
      204,
    );
    assert.equal((await admin.get(`/groups/${g.body.group.id}/users`)).body.users[0].name, 'carol');
    const upd = await admin.patch(`/projects/${p.body.project.id}`, {
      project: { description: 'the web', enabled: false },
    });
    assert.equal(upd.body.project.description, 'the web');
    assert.equal(upd.body.project.enabled, false);
    assert.equal((await admin.get(`/projects?domain_id=${domainId}`)).body.projects.length, 1);
    assert.equal((await admin.get('/users?name=carol')).body.users[0].id, u.body.user.id);
    assert.equal(
      (await admin.del(`/domains/${domainId}`)).status,
      403,
      'an enabled domain cannot be deleted',
    );
    assert.equal(
      (await admin.patch(`/domains/${domainId}`, { domain: { enabled: false } })).status,
      200,
    );
    assert.equal((await admin.del(`/domains/${domainId}`)).status, 204);
    assert.equal(
      (await admin.get(`/users/${u.body.user.id}`)).status,
      404,
      'deleting a domain deletes its users',
    );
    assert.equal((await admin.get(`/projects/${p.body.project.id}`)).status, 404);
  });

  it("a duplicate name is a 409, an unknown id a 404, both in Keystone's fault format", async () => {
    await admin.post('/projects', { project: { name: 'dup' } });
    const r = await admin.post('/projects', { project: { name: 'dup' } });
    assert.equal(r.status, 409);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'title']);
    assert.equal(r.body.error.title, 'Conflict');
    const nf = await admin.get('/users/does-not-exist');
    assert.equal(nf.status, 404);
    assert.match(nf.body.error.message, /Could not find user: does-not-exist/);
  });

  it('bad input is a 400 (malformed JSON, wrong types, missing fields), too large a 413', async () => {
    assert.equal((await admin.req('POST', '/projects', '{"project": {')).status, 400);
    assert.equal((await admin.post('/projects', { project: { name: 42 } })).status, 400);
    assert.equal((await admin.post('/projects', { project: {} })).status, 400);
    assert.equal((await admin.post('/projects', { nope: {} })).status, 400);
    assert.equal((await admin.post('/projects', { project: { name: '   ' } })).status, 400);
    assert.equal(
      (await admin.post('/users', { user: { name: 'x', domain_id: 'no-such-domain' } })).status,
      400,
    );
    const big = await admin.post('/projects', {
      project: { name: 'big', description: 'x'.repeat(2 * 1024 * 1024) },
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 413);
    const r = await admin.req('POST', '/auth/tokens', '[]');
    assert.equal(r.status, 400);
    assert.equal((await admin.get('/no-such-route')).status, 404);
  });

  it('a reader sees but cannot change; a user of project A sees nothing of project B', async () => {
    const a = (await admin.post('/projects', { project: { name: 'proj-a' } })).body.project.id;
    const b = (await admin.post('/projects', { project: { name: 'proj-b' } })).body.project.id;
    const rid = (await admin.post('/users', { user: { name: 'reed', password: 'pw' } })).body.user
      .id;
    await admin.put(`/projects/${a}/users/${rid}/roles/${roleId['reader']}`);
    const reed = await new Api(cloud.app).login('reed', 'pw', { project: { id: a } });
    assert.equal((await reed.get(`/projects/${a}`)).status, 200);
    assert.equal((await reed.get(`/projects/${b}`)).status, 403);
    assert.equal((await reed.get('/projects')).status, 403);
    assert.equal((await reed.get('/users')).status, 403);
    assert.equal(
      (await reed.patch(`/projects/${a}`, { project: { description: 'mine' } })).status,
      403,
    );
    assert.equal((await reed.post('/projects', { project: { name: 'sneaky' } })).status, 403);
    assert.equal((await reed.post('/users', { user: { name: 'sneaky' } })).status, 403);
    assert.equal(
      (await reed.put(`/projects/${a}/users/${rid}/roles/${roleId['admin']}`)).status,
      403,
    );
    const denied = await reed.del(`/projects/${b}`);
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /identity:delete_project/);
    assert.deepEqual(
      (await reed.get('/auth/projects')).body.projects.map((p: any) => p.id),
      [a],
    );
  });

  it('lists effective assignments through groups, inheritance and implied roles, with names', async () => {
    const p = (await admin.post('/projects', { project: { name: 'eff' } })).body.project;
    const u = (await admin.post('/users', { user: { name: 'gina', password: 'pw' } })).body.user;
    const g = (await admin.post('/groups', { group: { name: 'devs' } })).body.group;
    await admin.put(`/groups/${g.id}/users/${u.id}`);
    assert.equal(
      (await admin.put(`/projects/${p.id}/groups/${g.id}/roles/${roleId['member']}`)).status,
      204,
    );
    const raw = await admin.get(`/role_assignments?group.id=${g.id}`);
    assert.equal(raw.body.role_assignments.length, 1);
    const eff = await admin.get(`/role_assignments?effective&include_names&user.id=${u.id}`);
    const got = eff.body.role_assignments
      .map((a: any) => `${a.user.name}:${a.role.name}@${a.scope.project.name}`)
      .sort();
    assert.deepEqual(got, ['gina:member@eff', 'gina:reader@eff']);
    assert.ok(
      eff.body.role_assignments.every((a: any) => a.links.membership),
      'a group-derived row links its membership',
    );
    // Inherited from the domain onto every project in it.
    assert.equal(
      (
        await admin.put(
          `/OS-INHERIT/domains/default/users/${u.id}/roles/${roleId['reader']}/inherited_to_projects`,
        )
      ).status,
      204,
    );
    const gina = await new Api(cloud.app).login('gina', 'pw', {
      project: { name: 'admin', domain: { id: 'default' } },
    });
    assert.ok(gina.token);
    const inh = await admin.get(
      `/role_assignments?scope.OS-INHERIT:inherited_to=projects&user.id=${u.id}`,
    );
    assert.equal(inh.body.role_assignments[0].scope['OS-INHERIT:inherited_to'], 'projects');
  });

  it('grants on a domain give a domain-scoped token; system admin gives a system token', async () => {
    const u = (await admin.post('/users', { user: { name: 'dora', password: 'pw' } })).body.user;
    assert.equal(
      (await admin.put(`/domains/default/users/${u.id}/roles/${roleId['reader']}`)).status,
      204,
    );
    const dora = await new Api(cloud.app).login('dora', 'pw', { domain: { id: 'default' } });
    assert.equal(
      (await dora.get('/users?domain_id=default')).status,
      200,
      "a domain reader lists the domain's users",
    );
    assert.equal((await dora.post('/users', { user: { name: 'x' } })).status, 403);
    const sys = await new Api(cloud.app).post('/auth/tokens', {
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
  });

  it('manages the catalog: regions, services, endpoints', async () => {
    const s = await admin.post('/services', { service: { type: 'compute', name: 'nova' } });
    assert.equal(s.status, 201);
    const e = await admin.post('/endpoints', {
      endpoint: {
        service_id: s.body.service.id,
        interface: 'public',
        url: 'http://compute.test/v2.1',
        region_id: 'RegionOne',
      },
    });
    assert.equal(e.status, 201);
    assert.equal(
      (
        await admin.post('/endpoints', {
          endpoint: { service_id: s.body.service.id, interface: 'sideways', url: 'http://x' },
        })
      ).status,
      400,
    );
    const token = await adminApi(cloud.app);
    const cat = await token.get('/auth/catalog');
    assert.ok(
      cat.body.catalog.some(
        (c: any) => c.type === 'compute' && c.endpoints[0].url === 'http://compute.test/v2.1',
      ),
    );
    assert.equal((await admin.del(`/services/${s.body.service.id}`)).status, 204);
    assert.equal(
      (await admin.get(`/endpoints/${e.body.endpoint.id}`)).status,
      404,
      'endpoints go with their service',
    );
  });
});
