// Servers end to end inside one process: the API, the scheduler with its claims, three host agents
// on fake drivers over the memory bus, and the conductor. Builds reach ACTIVE on a host with room;
// anti-affinity spreads a group and refuses a fourth member; quotas refuse; a failing host is
// retried elsewhere; lists filter, sort and page as Nova's; delete gives the resources back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import type { Api } from '../support/client.ts';
import { insertInstances } from '../../src/compute/store/instances.ts';
import { startHostAgent } from '../../src/compute/agent/host-agent.ts';
import { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import { silentLogger } from '../../src/platform/log.ts';

describe('servers', () => {
  let c: ComputeCloud;
  let admin: Api;
  let alice: Api;
  let bob: Api;
  let aliceProject: string;
  let imageId: string;
  const boot = (api: Api, body: Record<string, unknown> = {}, hints?: Record<string, unknown>) =>
    c.boot(api, body, hints);

  before(async () => {
    const host = { vcpus: 4, memoryMb: 8192, diskGb: 100 };
    c = await startComputeCloud({ 'node-a': host, 'node-b': host, 'node-c': host });
    ({ admin, alice, bob, aliceProject, imageId } = c);
  });
  after(async () => {
    await c.close();
  });

  it('builds a server to ACTIVE on a host and shows it as Nova does', async () => {
    const r = await boot(alice, { name: 'web', metadata: { role: 'web' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof r.body.server.adminPass, 'string');
    assert.deepEqual(r.body.server.security_groups, [{ name: 'default' }]);
    const s = await waitFor(alice, id, ['ACTIVE']);
    assert.equal(s.name, 'web');
    assert.equal(s['OS-EXT-STS:vm_state'], 'active');
    assert.equal(s['OS-EXT-STS:task_state'], null);
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.equal(s['OS-EXT-AZ:availability_zone'], 'nova');
    assert.equal(s.tenant_id, aliceProject);
    assert.deepEqual(s.metadata, { role: 'web' });
    assert.equal(s.image.id, imageId);
    assert.equal(s.flavor.id, '1');
    assert.match(s.hostId, /^[0-9a-f]{56}$/);
    assert.equal(s.progress, 100);
    assert.match(s['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined, 'host names are for admins');
    const asAdmin = (await admin.req('GET', `/servers/${id}`, undefined, mv('2.47'))).body.server;
    assert.ok(['node-a', 'node-b', 'node-c'].includes(asAdmin['OS-EXT-SRV-ATTR:host']));
    assert.equal(asAdmin.flavor.original_name, 'm1.tiny', 'the flavor is embedded from 2.47');
    assert.equal(asAdmin.flavor.ram, 512);
    assert.ok(
      c.drivers.get(asAdmin['OS-EXT-SRV-ATTR:host'])!.used().vcpus >= 1,
      'the instance runs on that host',
    );
    assert.equal(
      (await bob.get(`/servers/${id}`)).status,
      404,
      "another project's server does not exist for bob",
    );
    assert.equal((await bob.del(`/servers/${id}`)).status, 404);
    assert.equal((await alice.del(`/servers/${id}`)).status, 204);
    await waitFor(alice, id, ['DELETED']);
    assert.equal((await alice.get(`/servers/${id}`)).status, 404);
  });

  it('refuses bad requests with 400 and a reason', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ flavorRef: 'nope' }, /Flavor nope could not be found/],
      [{ imageRef: crypto.randomUUID() }, /Image .* could not be found/],
      [{ name: ' padded ' }, /name/],
      [{ key_name: 'missing' }, /Invalid key_name/],
      [{ availability_zone: 'mars' }, /availability zone is not available/],
      [{ networks: [{ uuid: crypto.randomUUID() }] }, /Network .* could not be found/],
      [{ security_groups: [{ name: 'web' }] }, /security_group/],
      [{ min_count: 3, max_count: 2 }, /min_count/],
    ];
    for (const [body, message] of cases) {
      const r = await boot(alice, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.badRequest.message, message);
    }
    assert.equal(
      (
        await alice.req(
          'POST',
          '/servers',
          { server: { name: 'x', imageRef: imageId, flavorRef: '1' } },
          mv('2.37'),
        )
      ).status,
      400,
      'networks is required from 2.37',
    );
    const none = await alice.req(
      'POST',
      '/servers',
      { server: { name: 'x', imageRef: imageId, flavorRef: '1', networks: 'none' } },
      mv('2.37'),
    );
    assert.equal(none.status, 202);
    await waitFor(alice, none.body.server.id, ['ACTIVE']);
    assert.equal((await alice.del(`/servers/${none.body.server.id}`)).status, 204);
    await waitFor(alice, none.body.server.id, ['DELETED']);
  });

  it('spreads an anti-affinity group over distinct hosts and refuses a member no host can take', async () => {
    const g = await alice.post('/os-server-groups', {
      server_group: { name: 'spread', policies: ['anti-affinity'] },
    });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    const group = g.body.server_group.id;
    const ids: string[] = [];
    for (let n = 0; n < 3; n++)
      ids.push((await boot(alice, { name: `spread-${n}` }, { group })).body.server.id);
    const hosts = new Set<string>();
    for (const id of ids) {
      await waitFor(alice, id, ['ACTIVE']);
      hosts.add((await admin.get(`/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host']);
    }
    assert.equal(hosts.size, 3, 'one member per host');
    const fourth = (await boot(alice, { name: 'spread-3' }, { group })).body.server.id;
    const failed = await waitFor(alice, fourth, ['ERROR']);
    assert.match(failed.fault.message, /No valid host was found/);
    assert.equal(failed.fault.code, 500);
    const stop = await alice.post(`/servers/${fourth}/action`, { 'os-stop': null });
    assert.equal(stop.status, 409, 'a server that never reached a host has nothing to stop');
    const still = (await alice.get(`/servers/${fourth}`)).body.server;
    assert.deepEqual(
      [still.status, still['OS-EXT-STS:task_state']],
      ['ERROR', null],
      'and the refusal left no task behind',
    );
    // same_host and different_host name servers; the scheduler goes by the hosts they are on.
    const hostOf = async (sid: string) =>
      (await admin.get(`/servers/${sid}`)).body.server['OS-EXT-SRV-ATTR:host'];
    const next = (await boot(alice, { name: 'beside' }, { same_host: [ids[1]] })).body.server.id;
    await waitFor(alice, next, ['ACTIVE']);
    assert.equal(await hostOf(next), await hostOf(ids[1]!));
    const apart = (await boot(alice, { name: 'apart' }, { different_host: [ids[0], ids[1]] })).body
      .server.id;
    await waitFor(alice, apart, ['ACTIVE']);
    assert.equal(await hostOf(apart), await hostOf(ids[2]!));
    for (const x of [next, apart]) {
      await alice.del(`/servers/${x}`);
      await waitFor(alice, x, ['DELETED']);
    }
    const shown = (await alice.get(`/os-server-groups/${group}`)).body.server_group;
    assert.equal(shown.members.length, 4);
    for (const id of [...ids, fourth])
      assert.equal((await alice.del(`/servers/${id}`)).status, 204);
    for (const id of [...ids, fourth]) await waitFor(alice, id, ['DELETED']);
    assert.equal(
      (await alice.get(`/os-server-groups/${group}`)).body.server_group.members.length,
      0,
      'deleted servers leave their group',
    );
  });

  it('enforces the instance, core and RAM quotas with 403, and fits max_count to what is left', async () => {
    assert.equal(
      (await admin.req('PUT', `/os-quota-sets/${aliceProject}`, { quota_set: { instances: 4 } }))
        .status,
      200,
    );
    const live = (await alice.get('/servers')).body.servers.length;
    const many = await boot(alice, {
      name: 'batch',
      min_count: 1,
      max_count: 10,
      return_reservation_id: true,
    });
    assert.equal(many.status, 202);
    const batch = (await alice.get(`/servers/detail?reservation_id=${many.body.reservation_id}`))
      .body.servers;
    assert.equal(batch.length, 4 - live, 'max_count shrinks to the quota');
    assert.deepEqual(
      batch.map((s: any) => s.name).sort(),
      batch.map((_: unknown, n: number) => `batch-${n + 1}`).sort(),
    );
    const over = await boot(alice, { name: 'one-too-many' });
    assert.equal(over.status, 403);
    assert.match(over.body.forbidden.message, /Quota exceeded for instances/);
    for (const s of batch) await alice.del(`/servers/${s.id}`);
    for (const s of batch) await waitFor(alice, s.id, ['DELETED']);
    await admin.req('PUT', `/os-quota-sets/${aliceProject}`, {
      quota_set: { instances: 10, cores: 1 },
    });
    const cores = await boot(alice, { flavorRef: '3' });
    assert.equal(cores.status, 403);
    assert.match(cores.body.forbidden.message, /Quota exceeded for cores/);
    await admin.req('PUT', `/os-quota-sets/${aliceProject}`, { quota_set: { cores: 20 } });
  });

  it('retries a build that fails on one host on another, and records the attempt', async () => {
    await c.addHost('node-flaky', {
      vcpus: 64,
      memoryMb: 262144,
      diskGb: 1000,
      failSpawn: () => true,
    });
    // The biggest host wins the RAM weigher, fails, and the build lands elsewhere.
    const id = (await boot(alice, { name: 'retried' })).body.server.id;
    await waitFor(alice, id, ['ACTIVE']);
    const s = (await admin.get(`/servers/${id}`)).body.server;
    assert.notEqual(s['OS-EXT-SRV-ATTR:host'], 'node-flaky');
    const hyp = (
      await admin.req('GET', '/os-services?binary=nova-compute', undefined, mv('2.53'))
    ).body.services.find((x: any) => x.host === 'node-flaky');
    assert.equal(
      (await admin.req('PUT', `/os-services/${hyp.id}`, { status: 'disabled' }, mv('2.53'))).status,
      200,
    );
    await alice.del(`/servers/${id}`);
    await waitFor(alice, id, ['DELETED']);
  });

  it('lists with Nova filters, sorting and marker paging; changes-since shows deleted servers', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const ids: string[] = [];
    for (const name of ['alpha', 'beta', 'gamma'])
      ids.push((await boot(alice, { name })).body.server.id);
    for (const id of ids) await waitFor(alice, id, ['ACTIVE']);
    const byName = (await alice.get('/servers?name=^(alpha|gamma)$')).body.servers
      .map((s: any) => s.name)
      .sort();
    assert.deepEqual(byName, ['alpha', 'gamma'], 'name is a regular expression');
    // A pattern that backtracks exponentially elsewhere runs in linear time here; one that needs backtracking is refused.
    assert.deepEqual(
      (await alice.get(`/servers?name=${encodeURIComponent('^(a+)+b$')}`)).body.servers,
      [],
    );
    assert.equal((await alice.get(`/servers?name=${encodeURIComponent('(a)\\1')}`)).status, 400);
    assert.equal((await alice.get('/servers/detail?status=ACTIVE')).body.servers.length, 3);
    assert.equal((await alice.get('/servers?status=SHUTOFF')).body.servers.length, 0);
    const sorted = (
      await alice.get('/servers?sort_key=display_name&sort_dir=asc')
    ).body.servers.map((s: any) => s.name);
    assert.deepEqual(sorted, ['alpha', 'beta', 'gamma']);
    const page1 = (await alice.get('/servers?sort_key=display_name&sort_dir=asc&limit=2')).body;
    assert.deepEqual(
      page1.servers.map((s: any) => s.name),
      ['alpha', 'beta'],
    );
    const next = new URL(page1.servers_links[0].href);
    assert.equal(next.searchParams.get('marker'), page1.servers[1].id);
    const page2 = (await alice.get(`/servers?${next.searchParams}`)).body;
    assert.deepEqual(
      page2.servers.map((s: any) => s.name),
      ['gamma'],
    );
    assert.equal((await alice.get('/servers?sort_key=flavor')).status, 400);
    assert.equal((await bob.get('/servers')).body.servers.length, 0, 'bob sees only his project');
    assert.equal((await alice.get('/servers?all_tenants=1')).status, 403);
    assert.ok((await admin.get('/servers?all_tenants=1')).body.servers.length >= 3);
    await alice.del(`/servers/${ids[1]}`);
    await waitFor(alice, ids[1]!, ['DELETED']);
    assert.equal((await alice.get('/servers')).body.servers.length, 2);
    const changed = (await alice.get(`/servers/detail?changes-since=${encodeURIComponent(since)}`))
      .body.servers;
    assert.equal(changed.find((s: any) => s.id === ids[1]).status, 'DELETED');
    for (const id of [ids[0]!, ids[2]!]) {
      await alice.del(`/servers/${id}`);
      await waitFor(alice, id, ['DELETED']);
    }
  });

  it('places by aggregate zone and aggregate metadata, and reports usage per project', async () => {
    const agg = await admin.req(
      'POST',
      '/os-aggregates',
      { aggregate: { name: 'fast', availability_zone: 'az-fast' } },
      mv('2.41'),
    );
    assert.equal(agg.status, 200, JSON.stringify(agg.body));
    const aggId = agg.body.aggregate.id;
    assert.match(agg.body.aggregate.uuid, /^[0-9a-f-]{36}$/);
    assert.equal((await alice.post('/os-aggregates', { aggregate: { name: 'mine' } })).status, 403);
    assert.equal(
      (await admin.post(`/os-aggregates/${aggId}/action`, { add_host: { host: 'node-c' } })).body
        .aggregate.hosts[0],
      'node-c',
    );
    assert.equal(
      (await admin.post(`/os-aggregates/${aggId}/action`, { add_host: { host: 'node-x' } })).status,
      404,
    );
    const zones = (await alice.get('/os-availability-zone')).body.availabilityZoneInfo
      .map((z: any) => z.zoneName)
      .sort();
    assert.deepEqual(zones, ['az-fast', 'nova']);
    const inZone = (await boot(alice, { name: 'zoned', availability_zone: 'az-fast' })).body.server
      .id;
    const zoned = await waitFor(alice, inZone, ['ACTIVE']);
    assert.equal(zoned['OS-EXT-AZ:availability_zone'], 'az-fast');
    assert.equal(
      (await admin.get(`/servers/${inZone}`)).body.server['OS-EXT-SRV-ATTR:host'],
      'node-c',
    );
    // A flavor that asks for ssd lands only where an aggregate says ssd=true.
    await admin.post(`/os-aggregates/${aggId}/action`, {
      set_metadata: { metadata: { ssd: 'true' } },
    });
    const flavor = (
      await admin.post('/flavors', {
        flavor: { name: 'ssd.tiny', ram: 256, vcpus: 1, disk: 1, id: 'ssd1' },
      })
    ).body.flavor;
    await admin.post(`/flavors/${flavor.id}/os-extra_specs`, {
      extra_specs: { 'aggregate_instance_extra_specs:ssd': 'true' },
    });
    const ssd = (await boot(alice, { name: 'ssd', flavorRef: 'ssd1' })).body.server.id;
    await waitFor(alice, ssd, ['ACTIVE']);
    assert.equal(
      (await admin.get(`/servers/${ssd}`)).body.server['OS-EXT-SRV-ATTR:host'],
      'node-c',
    );
    const usage = (
      await admin.get(
        `/os-simple-tenant-usage?detailed=1&start=2020-01-01T00:00:00&end=${new Date(Date.now() + 60_000).toISOString().slice(0, 19)}`,
      )
    ).body.tenant_usages;
    const mine = usage.find((u: any) => u.tenant_id === aliceProject);
    assert.ok(mine.total_hours > 0);
    assert.ok(
      mine.server_usages.some((s: any) => s.instance_id === ssd && s.flavor === 'ssd.tiny'),
    );
    assert.equal((await alice.get('/os-simple-tenant-usage')).status, 403);
    assert.equal(
      (await alice.get(`/os-simple-tenant-usage/${aliceProject}`)).body.tenant_usage.tenant_id,
      aliceProject,
    );
    for (const id of [inZone, ssd]) {
      await alice.del(`/servers/${id}`);
      await waitFor(alice, id, ['DELETED']);
    }
    assert.equal(
      (await admin.post(`/os-aggregates/${aggId}/action`, { remove_host: { host: 'node-c' } }))
        .status,
      200,
    );
    assert.equal((await admin.del(`/os-aggregates/${aggId}`)).status, 200);
    assert.deepEqual(
      (await alice.get('/os-availability-zone')).body.availabilityZoneInfo.map(
        (z: any) => z.zoneName,
      ),
      ['nova'],
      'the host is back in the default zone',
    );
  });

  it('schedules a build that a stopped api process left in scheduling', async () => {
    // What a crash between the 202 and the placement leaves: a row building/scheduling, untouched.
    const id = crypto.randomUUID();
    const old = Date.now() - 120_000;
    await insertInstances(c.cloud.database.db, [
      {
        id,
        name: 'orphan',
        description: null,
        projectId: aliceProject,
        userId: 'u',
        availabilityZone: null,
        imageId,
        kernelId: null,
        ramdiskId: null,
        keyName: null,
        keyData: null,
        userData: null,
        metadata: {},
        hostname: 'orphan',
        reservationId: 'r-orphan',
        launchIndex: 0,
        configDrive: false,
        accessIpv4: null,
        accessIpv6: null,
        securityGroups: ['default'],
        requestedNetworks: 'auto',
        createdAt: old,
        request: {
          availabilityZone: null,
          forcedHost: null,
          groupId: null,
          sameHost: [],
          differentHost: [],
          imageProperties: {},
          tried: [],
        },
        flavor: {
          id: '1',
          name: 'm1.tiny',
          vcpus: 1,
          memoryMb: 512,
          rootGb: 1,
          ephemeralGb: 0,
          swapMb: 0,
          extraSpecs: {},
        },
      },
    ]);
    assert.equal((await alice.get(`/servers/${id}`)).body.server.status, 'BUILD');
    assert.equal(await c.cloud.compute.recoverStalledBuilds(60_000), 1);
    assert.equal(await c.cloud.compute.recoverStalledBuilds(60_000), 0, 'taken over once');
    await waitFor(alice, id, ['ACTIVE']);
    await alice.del(`/servers/${id}`);
    await waitFor(alice, id, ['DELETED']);
  });

  it('clears host work whose result never came, so no server stays in a task', async () => {
    const id = (await boot(alice, { name: 'abandoned' })).body.server.id;
    await waitFor(alice, id, ['ACTIVE']);
    // What a lost result leaves: a task set long ago that nothing will finish.
    await c.cloud.database.db
      .updateTable('instances')
      .set({ task_state: 'powering-off', updated_at: Date.now() - 3_600_000 })
      .where('id', '=', id)
      .execute();
    assert.equal(await c.cloud.compute.recoverAbandonedWork(30 * 60_000), 1);
    const s = (await alice.get(`/servers/${id}`)).body.server;
    assert.deepEqual([s.status, s['OS-EXT-STS:task_state']], ['ACTIVE', null]);
    await alice.del(`/servers/${id}`);
    await waitFor(alice, id, ['DELETED']);
  });

  it('reconciles a restarted host: what it lost is in ERROR, what the cloud does not know is destroyed', async () => {
    const first = await c.addHost('node-r', { vcpus: 4, memoryMb: 8192, diskGb: 100 });
    const r = await admin.post('/servers', {
      server: {
        name: 'pinned',
        imageRef: imageId,
        flavorRef: '1',
        availability_zone: 'nova:node-r',
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitFor(admin, r.body.server.id, ['ACTIVE']);
    assert.equal(
      (await admin.get(`/servers/${r.body.server.id}`)).body.server['OS-EXT-SRV-ATTR:host'],
      'node-r',
    );
    assert.equal(
      (
        await alice.post('/servers', {
          server: {
            name: 'x',
            imageRef: imageId,
            flavorRef: '1',
            availability_zone: 'nova:node-r',
          },
        })
      ).status,
      403,
      'forcing a host is for admins',
    );
    await first.stop();
    c.drivers.delete('node-r'); // that hypervisor's memory is gone with the restart
    // The host comes back with an empty hypervisor but for one guest nobody asked for.
    const again = new FakeDriver({ vcpus: 4, memoryMb: 8192, diskGb: 100 });
    await again.spawn({
      uuid: crypto.randomUUID(),
      name: 'stray',
      hostname: 'stray',
      nics: [],
      flavor: { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
      image: {
        id: imageId,
        diskFormat: 'raw',
        checksum: null,
        properties: {},
        open: async () => {
          throw new Error('unused');
        },
      },
      metadata: { publicKeys: {}, userData: null, meta: {}, configDrive: false },
    });
    const agent = await startHostAgent({
      bus: c.bus,
      host: 'node-r',
      log: silentLogger(),
      version: 'test',
      driver: again,
      heartbeatMs: 1000,
    });
    await agent.registered;
    const lost = (await admin.get(`/servers/${r.body.server.id}`)).body.server;
    assert.equal(lost.status, 'ERROR');
    assert.match(lost.fault.message, /no longer on its host/);
    assert.match(lost.fault.details, /node-r/, 'admins see which host in the details');
    assert.deepEqual(await again.listInstances(), [], 'the stray guest was destroyed');
    assert.equal((await admin.del(`/servers/${r.body.server.id}`)).status, 204);
    await waitFor(admin, r.body.server.id, ['DELETED']);
    await agent.stop();
    const svc = (await admin.req('GET', '/os-services?host=node-r', undefined, mv('2.53'))).body
      .services[0];
    assert.equal(
      (await admin.req('DELETE', `/os-services/${svc.id}`, undefined, mv('2.53'))).status,
      204,
    );
  });

  it('gives every host its resources back once its servers are deleted', async () => {
    for (const [host, d] of c.drivers)
      assert.deepEqual(d.used(), { vcpus: 0, memoryMb: 0, diskGb: 0 }, host);
    for (const u of await c.cloud.compute.scheduler.usage())
      assert.deepEqual(u.used, { vcpus: 0, memoryMb: 0, diskGb: 0 }, u.host);
  });
});
