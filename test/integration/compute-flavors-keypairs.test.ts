// Compute v2.1 through the HTTP API, first part: version discovery and microversion negotiation,
// Nova's fault bodies, the default flavors, flavor management with extra specs and private access,
// and key pairs (imported, generated before 2.92, fingerprinted like ssh-keygen).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, projectUser, type Api } from '../support/client.ts';

const mv = (v: string) => ({ 'openstack-api-version': `compute ${v}` });

describe('compute API: versions, flavors, key pairs', () => {
  let cloud: TestCloud;
  let admin: Api;
  let alice: Api;
  let aliceProject: string;
  let bob: Api;

  before(async () => {
    cloud = await startTestCloud();
    const identity = await adminApi(cloud.app);
    admin = identity.on('/compute/v2.1');
    ({ api: alice, projectId: aliceProject } = await projectUser(identity, 'alice'));
    bob = (await projectUser(identity, 'bob')).api.on('/compute/v2.1');
    alice = alice.on('/compute/v2.1');
  });
  after(() => cloud.close());

  it('discovers the version and negotiates microversions like Nova', async () => {
    const root = await admin.on('/compute').req('GET', '/');
    assert.equal(root.status, 200, 'Nova answers its root with 200');
    assert.deepEqual(
      root.body.versions.map((v: any) => [v.id, v.status]),
      [
        ['v2.0', 'SUPPORTED'],
        ['v2.1', 'CURRENT'],
      ],
    );
    assert.match(String((await admin.get('/flavors')).headers['x-compute-request-id']), /^req-/);
    const v = (await admin.get('/')).body.version;
    assert.equal(v.min_version, '2.1');
    assert.match(v.version, /^2\.\d+$/);
    assert.equal(v.links[0].href, 'http://nubes.test/compute/v2.1/');
    const none = await admin.get('/flavors');
    assert.equal(none.headers['openstack-api-version'], 'compute 2.1', 'no header: the minimum');
    assert.match(String(none.headers['vary']), /OpenStack-API-Version/);
    const latest = await admin.req('GET', '/flavors', undefined, mv('latest'));
    assert.equal(latest.headers['openstack-api-version'], `compute ${v.version}`);
    assert.equal(
      (await admin.req('GET', '/flavors', undefined, { 'x-openstack-nova-api-version': '2.55' }))
        .headers['x-openstack-nova-api-version'],
      '2.55',
    );
    const tooHigh = await admin.req('GET', '/flavors', undefined, mv('2.999'));
    assert.equal(tooHigh.status, 406);
    assert.match(
      tooHigh.body.computeFault.message,
      /Version 2.999 is not supported by the API. Minimum is 2.1 and maximum is/,
    );
    const garbage = await admin.req('GET', '/flavors', undefined, mv('two'));
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.badRequest.code, 400);
  });

  it('starts with the classic public flavors and m1.nano', async () => {
    const list = (await alice.get('/flavors/detail')).body.flavors;
    const by = Object.fromEntries(list.map((f: any) => [f.name, [f.vcpus, f.ram, f.disk]]));
    assert.deepEqual(by['m1.tiny'], [1, 512, 1]);
    assert.deepEqual(by['m1.small'], [1, 2048, 20]);
    assert.deepEqual(by['m1.medium'], [2, 4096, 40]);
    assert.deepEqual(by['m1.large'], [4, 8192, 80]);
    assert.deepEqual(by['m1.xlarge'], [8, 16384, 160]);
    assert.deepEqual(by['m1.nano'], [1, 128, 1]);
    const tiny = list.find((f: any) => f.name === 'm1.tiny');
    assert.equal(tiny.swap, '', 'before 2.75 no swap is ""');
    assert.equal(tiny['os-flavor-access:is_public'], true);
    assert.deepEqual(tiny.links[0], {
      rel: 'self',
      href: 'http://nubes.test/compute/v2.1/flavors/1',
    });
    const newer = (await alice.req('GET', '/flavors/1', undefined, mv('2.75'))).body.flavor;
    assert.equal(newer.swap, 0);
    assert.deepEqual(newer.extra_specs, {});
    assert.equal(newer.description, null);
  });

  it('lets admins create, describe, spec, share and delete flavors; others only use them', async () => {
    const body = {
      flavor: {
        name: 'gold',
        ram: 1024,
        vcpus: 2,
        disk: 10,
        'OS-FLV-EXT-DATA:ephemeral': 5,
        swap: 512,
        'os-flavor-access:is_public': false,
        description: 'for gold',
      },
    };
    assert.equal((await alice.req('POST', '/flavors', body, mv('2.55'))).status, 403);
    const made = await admin.req('POST', '/flavors', body, mv('2.55'));
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const f = made.body.flavor;
    assert.match(f.id, /^[0-9a-f-]{36}$/, 'an id is generated');
    assert.equal(f['OS-FLV-EXT-DATA:ephemeral'], 5);
    assert.equal(f.swap, 512);
    assert.equal(
      (await admin.req('POST', '/flavors', body, mv('2.55'))).body.conflictingRequest.message,
      'Flavor with name gold already exists.',
    );
    assert.equal(
      (await admin.post('/flavors', { flavor: { name: 'x', ram: 0, vcpus: 1, disk: 1 } })).status,
      400,
    );
    assert.equal(
      (await admin.post('/flavors', { flavor: { name: 'x', ram: 1, vcpus: 1, disk: 1, bogus: 1 } }))
        .status,
      400,
    );

    assert.equal(
      (await alice.get(`/flavors/${f.id}`)).status,
      404,
      'a private flavor is invisible to others',
    );
    assert.ok(
      !(await admin.get('/flavors')).body.flavors.some((x: any) => x.id === f.id),
      "not in an admin's default list either (no access)",
    );
    assert.ok(
      (await admin.get('/flavors?is_public=none')).body.flavors.some((x: any) => x.id === f.id),
    );
    assert.deepEqual(
      (await admin.get('/flavors?is_public=false')).body.flavors.map((x: any) => x.id),
      [f.id],
    );
    assert.ok(
      !(await alice.get('/flavors?is_public=none')).body.flavors.some((x: any) => x.id === f.id),
      'users cannot widen their list',
    );
    assert.ok(!(await alice.get('/flavors')).body.flavors.some((x: any) => x.id === f.id));
    const add = await admin.post(`/flavors/${f.id}/action`, {
      addTenantAccess: { tenant: aliceProject },
    });
    assert.equal(add.status, 200);
    assert.ok(add.body.flavor_access.some((a: any) => a.tenant_id === aliceProject));
    assert.equal(
      (await admin.post(`/flavors/${f.id}/action`, { addTenantAccess: { tenant: aliceProject } }))
        .status,
      409,
    );
    const publicAccess = await admin.req(
      'POST',
      '/flavors/1/action',
      { addTenantAccess: { tenant: aliceProject } },
      mv('2.7'),
    );
    assert.equal(
      publicAccess.body.conflictingRequest.message,
      'Can not add access to a public flavor.',
      'refused from 2.7 on',
    );
    assert.equal((await alice.get(`/flavors/${f.id}`)).status, 200, 'now alice may use it');
    assert.ok((await alice.get('/flavors')).body.flavors.some((x: any) => x.id === f.id));
    assert.equal((await bob.get(`/flavors/${f.id}`)).status, 404, 'bob still may not');

    assert.equal(
      (
        await admin.post(`/flavors/${f.id}/os-extra_specs`, {
          extra_specs: { 'hw:cpu_policy': 'dedicated', 'quota:disk_read_iops_sec': 100 },
        })
      ).status,
      200,
    );
    assert.deepEqual((await alice.get(`/flavors/${f.id}/os-extra_specs`)).body.extra_specs, {
      'hw:cpu_policy': 'dedicated',
      'quota:disk_read_iops_sec': '100',
    });
    assert.deepEqual((await alice.get(`/flavors/${f.id}/os-extra_specs/hw:cpu_policy`)).body, {
      'hw:cpu_policy': 'dedicated',
    });
    assert.equal(
      (await alice.post(`/flavors/${f.id}/os-extra_specs`, { extra_specs: { a: 'b' } })).status,
      403,
    );
    assert.equal(
      (await admin.req('PUT', `/flavors/${f.id}/os-extra_specs/hw:cpu_policy`, { other: 'x' }))
        .status,
      400,
      'body and URL must name the same key',
    );
    assert.equal((await admin.del(`/flavors/${f.id}/os-extra_specs/hw:cpu_policy`)).status, 200);
    assert.equal((await admin.get(`/flavors/${f.id}/os-extra_specs/hw:cpu_policy`)).status, 404);

    const upd = await admin.req(
      'PUT',
      `/flavors/${f.id}`,
      { flavor: { description: 'new words' } },
      mv('2.55'),
    );
    assert.equal(upd.body.flavor.description, 'new words');
    assert.equal(
      (await admin.req('PUT', `/flavors/${f.id}`, { flavor: { ram: 1 } }, mv('2.55'))).status,
      400,
      'only the description changes',
    );
    assert.equal(
      (await admin.req('PUT', `/flavors/${f.id}`, { flavor: { description: 'x' } })).status,
      400,
      'not before 2.55',
    );
    assert.equal((await admin.del(`/flavors/${f.id}`)).status, 202);
    assert.equal((await admin.get(`/flavors/${f.id}`)).status, 404);
    assert.equal(
      (await admin.get(`/flavors/${f.id}`)).body.itemNotFound.message,
      `Flavor ${f.id} could not be found.`,
    );
  });

  it('filters, sorts and pages flavors', async () => {
    const big = (await alice.get('/flavors?minRam=4096&minDisk=40')).body.flavors
      .map((f: any) => f.name)
      .sort();
    assert.deepEqual(big, ['m1.large', 'm1.medium', 'm1.xlarge']);
    const byRam = (
      await alice.get('/flavors/detail?sort_key=memory_mb&sort_dir=desc')
    ).body.flavors.map((f: any) => f.ram);
    assert.deepEqual(
      byRam,
      [...byRam].sort((a: number, b: number) => b - a),
    );
    const page1 = (await alice.get('/flavors?limit=2')).body;
    assert.equal(page1.flavors.length, 2);
    const next = new URL(page1.flavors_links[0].href);
    const page2 = (await alice.get(`/flavors?${next.searchParams}`)).body;
    assert.ok(
      !page2.flavors.some((f: any) => page1.flavors.some((g: any) => g.id === f.id)),
      'pages do not overlap',
    );
    assert.equal((await alice.get('/flavors?sort_key=bogus')).status, 400);
    assert.equal((await alice.get('/flavors?marker=nope')).status, 400);
  });

  it('imports, generates, lists, shows and deletes key pairs per user', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const blob = Buffer.concat([
      Buffer.from([0, 0, 0, 11]),
      Buffer.from('ssh-ed25519'),
      Buffer.from([0, 0, 0, 32]),
      raw,
    ]);
    const line = `ssh-ed25519 ${blob.toString('base64')} alice@laptop`;
    const imported = await alice.req(
      'POST',
      '/os-keypairs',
      { keypair: { name: 'laptop', public_key: line } },
      mv('2.92'),
    );
    assert.equal(imported.status, 201);
    assert.match(imported.body.keypair.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    assert.equal(imported.body.keypair.type, 'ssh');
    assert.equal(imported.body.keypair.private_key, undefined);
    const dup = await alice.req(
      'POST',
      '/os-keypairs',
      { keypair: { name: 'laptop', public_key: line } },
      mv('2.92'),
    );
    assert.equal(dup.status, 409);
    assert.equal(dup.body.conflictingRequest.message, "Key pair 'laptop' already exists.");
    assert.equal(
      (
        await alice.req(
          'POST',
          '/os-keypairs',
          { keypair: { name: 'bad', public_key: 'ssh-rsa AAAA' } },
          mv('2.92'),
        )
      ).status,
      400,
    );
    assert.equal(
      (await alice.req('POST', '/os-keypairs', { keypair: { name: 'gen' } }, mv('2.92'))).status,
      400,
      '2.92 needs a public key',
    );
    const gen = await alice.req('POST', '/os-keypairs', { keypair: { name: 'gen' } }, mv('2.10'));
    assert.equal(gen.status, 201);
    assert.match(gen.body.keypair.private_key, /BEGIN RSA PRIVATE KEY/);
    assert.match(gen.body.keypair.public_key, /^ssh-rsa /);
    assert.equal(
      (
        await alice.req(
          'POST',
          '/os-keypairs',
          { keypair: { name: 'bad/name', public_key: line } },
          mv('2.92'),
        )
      ).status,
      400,
    );

    const list = (await alice.req('GET', '/os-keypairs', undefined, mv('2.35'))).body.keypairs.map(
      (k: any) => k.keypair.name,
    );
    assert.deepEqual(list, ['gen', 'laptop']);
    assert.deepEqual(
      (await bob.get('/os-keypairs')).body.keypairs,
      [],
      "bob sees none of alice's pairs",
    );
    assert.equal((await bob.get('/os-keypairs/laptop')).status, 404);
    const shown = (await alice.req('GET', '/os-keypairs/laptop', undefined, mv('2.10'))).body
      .keypair;
    assert.equal(shown.public_key, line);
    const page = (await alice.req('GET', '/os-keypairs?limit=1', undefined, mv('2.35'))).body;
    assert.equal(page.keypairs.length, 1);
    assert.match(page.keypairs_links[0].href, /marker=gen/);
    assert.equal((await alice.req('DELETE', '/os-keypairs/gen', undefined, mv('2.2'))).status, 204);
    assert.equal((await alice.req('DELETE', '/os-keypairs/gen', undefined, mv('2.2'))).status, 404);
  });

  it('shows, sets, checks and resets quotas, and reports limits with usage', async () => {
    const q = (await alice.get(`/os-quota-sets/${aliceProject}`)).body.quota_set;
    assert.deepEqual(
      [q.id, q.instances, q.cores, q.ram, q.key_pairs],
      [aliceProject, 10, 20, 51200, 100],
    );
    assert.equal(q.floating_ips, -1, 'network keys before 2.36');
    assert.equal(
      (await alice.req('GET', `/os-quota-sets/${aliceProject}`, undefined, mv('2.57'))).body
        .quota_set.injected_files,
      undefined,
      'gone at 2.57',
    );
    assert.equal(
      (await bob.get(`/os-quota-sets/${aliceProject}`)).status,
      403,
      "bob may not read alice's project quotas",
    );
    assert.equal(
      (await alice.req('PUT', `/os-quota-sets/${aliceProject}`, { quota_set: { instances: 100 } }))
        .status,
      403,
      'only admins set quotas',
    );
    const set = await admin.req('PUT', `/os-quota-sets/${aliceProject}`, {
      quota_set: { instances: 3, cores: '6', key_pairs: 1 },
    });
    assert.equal(set.status, 200);
    assert.deepEqual(
      [set.body.quota_set.instances, set.body.quota_set.cores, set.body.quota_set.id],
      [3, 6, undefined],
    );
    assert.equal(
      (await admin.req('PUT', `/os-quota-sets/${aliceProject}`, { quota_set: { bogus: 1 } }))
        .status,
      400,
    );
    const limits = (await alice.get('/limits')).body.limits;
    assert.deepEqual(
      [
        limits.absolute.maxTotalInstances,
        limits.absolute.maxTotalCores,
        limits.absolute.totalInstancesUsed,
      ],
      [3, 6, 0],
    );
    assert.deepEqual(limits.rate, []);
    const detail = (await alice.get(`/os-quota-sets/${aliceProject}/detail`)).body.quota_set;
    assert.deepEqual(
      detail.key_pairs,
      { in_use: 1, limit: 1, reserved: 0 },
      "alice's one remaining key pair counts",
    );
    const over = await alice.req(
      'POST',
      '/os-keypairs',
      { keypair: { name: 'second' } },
      mv('2.10'),
    );
    assert.equal(over.status, 403, 'the key_pairs quota now stops a second pair');
    assert.match(over.body.forbidden.message, /Quota exceeded, too many key pairs/);
    assert.equal(
      (
        await admin.req('PUT', `/os-quota-sets/${aliceProject}`, {
          quota_set: { key_pairs: 0, force: true },
        })
      ).status,
      200,
    );
    assert.equal((await admin.del(`/os-quota-sets/${aliceProject}`)).status, 202);
    assert.equal(
      (await alice.get(`/os-quota-sets/${aliceProject}`)).body.quota_set.instances,
      10,
      'back to the defaults',
    );
    assert.equal(
      (await alice.get(`/limits?tenant_id=${aliceProject}`)).status,
      200,
      'its own project',
    );
    assert.equal(
      (await bob.get(`/limits?tenant_id=${aliceProject}`)).status,
      403,
      "another's needs an admin",
    );
  });
});
