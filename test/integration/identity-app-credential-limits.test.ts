// What an application credential's limits mean to the user who makes one, over HTTP: its access
// rules hold on every service (compute, image, identity), its tokens never outlive it, and the
// roles it delegates bring their implied roles (a member credential can read).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import { Api, adminApi } from '../support/client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('application credential limits', () => {
  let c: ComputeCloud;
  let alice: Api;
  let aliceId: string;
  let serverId: string;

  /** Alice makes a credential and authenticates with it; the token's client and the answers. */
  async function credToken(name: string, cred: Record<string, unknown>) {
    const made = await alice.post(`/users/${aliceId}/application_credentials`, {
      application_credential: { name, ...cred },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { id, secret } = made.body.application_credential;
    const auth = await new Api(c.cloud.app).post('/auth/tokens', {
      auth: {
        identity: { methods: ['application_credential'], application_credential: { id, secret } },
      },
    });
    assert.equal(auth.status, 201, JSON.stringify(auth.body));
    const token = auth.headers['x-subject-token'] as string;
    return {
      id,
      cred: made.body.application_credential,
      token: auth.body.token,
      identity: new Api(c.cloud.app, token),
      compute: new Api(c.cloud.app, token, '/compute/v2.1'),
      image: new Api(c.cloud.app, token, '/image'),
    };
  }

  before(async () => {
    c = await startComputeCloud({ 'node-a': { vcpus: 8, memoryMb: 16384, diskGb: 200 } });
    alice = new Api(c.cloud.app, c.alice.token);
    aliceId = (
      await alice.req('GET', '/auth/tokens', undefined, { 'x-subject-token': c.alice.token! })
    ).body.token.user.id;
    const boot = await c.boot(c.alice);
    assert.equal(boot.status, 202, JSON.stringify(boot.body));
    serverId = boot.body.server.id;
    await waitFor(c.alice, serverId, ['ACTIVE']);
    const meta = await c.alice.req('PUT', `/servers/${serverId}/metadata/owner`, {
      meta: { owner: 'alice' },
    });
    assert.equal(meta.status, 200, JSON.stringify(meta.body));
  });
  after(() => c.close());

  it('a credential limited to GET /v2.1/servers lists servers and is refused everything else', async () => {
    const ro = await credToken('list-only', {
      access_rules: [{ service: 'compute', method: 'GET', path: '/v2.1/servers' }],
    });
    const rules = ro.cred.access_rules;
    assert.equal(rules.length, 1);
    assert.match(rules[0].id, /^[0-9a-f]{32}$/, 'each rule gets an id, as in Keystone');
    assert.deepEqual(ro.token.application_credential.access_rules, rules);

    const list = await ro.compute.get('/servers');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(
      list.body.servers.map((s: any) => s.id),
      [serverId],
    );
    const refused: [Api, string, string, unknown?][] = [
      [ro.compute, 'POST', '/os-keypairs', { keypair: { name: 'sneaky' } }],
      [ro.compute, 'DELETE', `/servers/${serverId}/metadata/owner`],
      [ro.compute, 'GET', `/servers/${serverId}`],
      [ro.compute, 'GET', '/servers/detail'],
      [ro.compute, 'DELETE', `/servers/${serverId}`],
      [ro.image, 'GET', '/v2/images'],
      [ro.identity, 'GET', `/users/${aliceId}/application_credentials`],
      [ro.identity, 'DELETE', '/auth/tokens'],
    ];
    for (const [api, method, url, body] of refused) {
      const r = await api.req(method, url, body);
      assert.equal(r.status, 401, `${api.prefix} ${method} ${url}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /access rules do not allow/, `${method} ${url}`);
      assert.match(String(r.headers['www-authenticate']), /^Keystone uri=/);
    }
    // Nothing of the refused requests happened.
    assert.equal((await c.alice.get('/os-keypairs')).body.keypairs.length, 0);
    assert.deepEqual((await c.alice.get(`/servers/${serverId}/metadata`)).body.metadata, {
      owner: 'alice',
    });
    assert.equal((await c.alice.get(`/servers/${serverId}`)).body.server.status, 'ACTIVE');
    // A token may always be validated, as keystonemiddleware lets it.
    const self = await ro.identity.req('GET', '/auth/tokens', undefined, {
      'x-subject-token': ro.identity.token!,
    });
    assert.equal(self.status, 200);
  });

  it('access rule templates take one segment for * and {name}, any tail for **', async () => {
    const meta = await credToken('metadata', {
      access_rules: [
        { service: 'compute', method: 'GET', path: '/v2.1/servers/*' },
        { service: 'compute', method: 'PUT', path: '/v2.1/servers/{server_id}/metadata/*' },
        { service: 'image', method: 'GET', path: '/v2/**' },
      ],
    });
    assert.equal((await meta.compute.get(`/servers/${serverId}`)).status, 200);
    const put = await meta.compute.req('PUT', `/servers/${serverId}/metadata/env`, {
      meta: { env: 'ci' },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((await meta.compute.get(`/servers/${serverId}/metadata`)).status, 401);
    assert.equal((await meta.compute.del(`/servers/${serverId}/metadata/env`)).status, 401);
    assert.equal((await meta.image.get('/v2/images')).status, 200);
    assert.equal((await meta.image.get(`/v2/images/${c.imageId}`)).status, 200);
    assert.equal((await meta.image.del(`/v2/images/${c.imageId}`)).status, 401);
  });

  it('refuses access rules that are not service, method and path, saying what one looks like', async () => {
    for (const rule of [
      { service: 'compute', method: 'FETCH', path: '/v2.1/servers' },
      { service: 'compute', method: 'GET', path: 'v2.1/servers' },
      { service: 'compute', method: 'GET' },
      { service: 'compute', method: 'GET', path: '/x', verb: 'GET' },
      'GET /v2.1/servers',
    ]) {
      const r = await alice.post(`/users/${aliceId}/application_credentials`, {
        application_credential: { name: 'bad-rule', access_rules: [rule] },
      });
      assert.equal(r.status, 400, JSON.stringify(rule));
      assert.match(r.body.error.message, /access_rules\[0\]/, JSON.stringify(rule));
    }
    const unknown = await alice.post(`/users/${aliceId}/application_credentials`, {
      application_credential: { name: 'bad-rule', access_rules: [{ id: 'nope' }] },
    });
    assert.equal(unknown.status, 404);
    // An existing rule is named by its id, and the same rule keeps its id.
    const first = (await alice.get(`/users/${aliceId}/application_credentials?name=list-only`)).body
      .application_credentials[0].access_rules[0];
    const byId = await alice.post(`/users/${aliceId}/application_credentials`, {
      application_credential: { name: 'by-id', access_rules: [{ id: first.id }] },
    });
    assert.equal(byId.status, 201, JSON.stringify(byId.body));
    assert.deepEqual(byId.body.application_credential.access_rules, [first]);
    const same = await alice.post(`/users/${aliceId}/application_credentials`, {
      application_credential: {
        name: 'same-rule',
        access_rules: [{ service: 'compute', method: 'GET', path: '/v2.1/servers' }],
      },
    });
    assert.equal(same.body.application_credential.access_rules[0].id, first.id);
  });

  it('a token expires no later than its credential, and stops validating when it expires', async () => {
    const soon = new Date(Date.now() + 1500).toISOString();
    const short = await credToken('short', { expires_at: soon });
    assert.ok(
      Date.parse(short.token.expires_at) <= Date.parse(soon),
      `token ${short.token.expires_at} outlives its credential ${soon}`,
    );
    // A token re-issued from it with the token method keeps the bound.
    const again = await new Api(c.cloud.app).post('/auth/tokens', {
      auth: { identity: { methods: ['token'], token: { id: short.identity.token } } },
    });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.ok(Date.parse(again.body.token.expires_at) <= Date.parse(soon));
    assert.equal((await short.compute.get('/servers')).status, 200);
    await sleep(Math.max(0, Date.parse(soon) - Date.now()) + 50);
    assert.equal((await short.compute.get('/servers')).status, 401);
    const admin = await adminApi(c.cloud.app);
    const v = await admin.req('GET', '/auth/tokens', undefined, {
      'x-subject-token': short.identity.token!,
    });
    assert.equal(v.status, 404);
  });

  it('a token stops validating once its credential is deleted', async () => {
    const gone = await credToken('gone', {});
    assert.equal((await gone.compute.get('/servers')).status, 200);
    assert.equal(
      (await alice.del(`/users/${aliceId}/application_credentials/${gone.id}`)).status,
      204,
    );
    assert.equal((await gone.compute.get('/servers')).status, 401);
    assert.equal((await gone.image.get('/v2/images')).status, 401);
  });

  it('a member-only credential carries the implied reader role: it reads as well as writes', async () => {
    const member = await credToken('member-only', { roles: [{ name: 'member' }] });
    assert.deepEqual(member.token.roles.map((r: any) => r.name).sort(), ['member', 'reader']);
    const list = await member.compute.get('/servers');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal((await member.compute.get(`/servers/${serverId}`)).status, 200);
    assert.equal((await member.image.get('/v2/images')).status, 200);
    const kp = await member.compute.post('/os-keypairs', { keypair: { name: 'from-member' } });
    assert.equal(kp.status, 200, JSON.stringify(kp.body));
    assert.equal((await member.compute.get('/os-keypairs')).body.keypairs.length, 1);
    const rescoped = await new Api(c.cloud.app).post('/auth/tokens', {
      auth: { identity: { methods: ['token'], token: { id: member.identity.token } } },
    });
    assert.deepEqual(rescoped.body.token.roles.map((r: any) => r.name).sort(), [
      'member',
      'reader',
    ]);
    // Validation shows the same roles, as a service checking the token would see them.
    const admin = await adminApi(c.cloud.app);
    const v = await admin.req('GET', '/auth/tokens', undefined, {
      'x-subject-token': member.identity.token!,
    });
    assert.deepEqual(v.body.token.roles.map((r: any) => r.name).sort(), ['member', 'reader']);
  });

  it('implied roles apply to domain- and system-scoped tokens too', async () => {
    const admin = await adminApi(c.cloud.app);
    const member = (await admin.get('/roles?name=member')).body.roles[0].id;
    assert.equal(
      (await admin.put(`/domains/default/users/${aliceId}/roles/${member}`)).status,
      204,
    );
    assert.equal((await admin.put(`/system/users/${aliceId}/roles/${member}`)).status, 204);
    for (const scope of [{ domain: { id: 'default' } }, { system: { all: true } }]) {
      const t = await new Api(c.cloud.app).post('/auth/tokens', {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: aliceId, password: 'alice-pw' } },
          },
          scope,
        },
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      assert.deepEqual(
        t.body.token.roles.map((r: any) => r.name).sort(),
        ['member', 'reader'],
        JSON.stringify(scope),
      );
    }
  });
});
