// Host agents and what the API shows of them: an agent (fake driver) reports its inventory to the
// conductor over the bus, heartbeats, and appears as a nova-compute service, a hypervisor and in
// an availability zone; admins disable it and force it down; a silent host goes down.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, projectUser, type Api } from '../support/client.ts';
import { createMemoryBus } from '../../src/platform/bus/memory.ts';
import { startHostAgent, type HostAgent } from '../../src/compute/agent/host-agent.ts';
import { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import { silentLogger } from '../../src/platform/log.ts';
import type { Bus, Subscription } from '../../src/platform/bus/bus.ts';

const mv = (v: string) => ({ 'openstack-api-version': `compute ${v}` });

describe('compute hosts', () => {
  let cloud: TestCloud;
  let admin: Api;
  let alice: Api;
  let bus: Bus;
  let conductor: Subscription;
  const agents: HostAgent[] = [];

  before(async () => {
    cloud = await startTestCloud();
    admin = (await adminApi(cloud.app)).on('/compute/v2.1');
    alice = (await projectUser(await adminApi(cloud.app), 'alice')).api.on('/compute/v2.1');
    bus = createMemoryBus();
    conductor = await cloud.compute.serveConductor(bus);
    for (const [host, vcpus] of [
      ['node-a', 8],
      ['node-b', 32],
    ] as const) {
      const agent = await startHostAgent({
        bus,
        host,
        log: silentLogger(),
        version: 'test',
        driver: new FakeDriver({ vcpus, memoryMb: 16384, diskGb: 200 }),
        heartbeatMs: 50,
      });
      agents.push(agent);
      await agent.registered;
    }
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await conductor.close();
    await bus.close();
    await cloud.close();
  });

  it('lists each reported host as an up, enabled nova-compute service (UUIDs from 2.53, integers before)', async () => {
    const services = (await admin.req('GET', '/os-services', undefined, mv('2.53'))).body.services;
    assert.deepEqual(
      services.map((s: any) => [s.host, s.binary, s.status, s.state, s.zone]),
      [
        ['node-a', 'nova-compute', 'enabled', 'up', 'nova'],
        ['node-b', 'nova-compute', 'enabled', 'up', 'nova'],
      ],
    );
    assert.match(services[0].id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof (await admin.get('/os-services')).body.services[0].id, 'number');
    assert.equal((await alice.get('/os-services')).status, 403, 'admins only');
  });

  it('shows hypervisors with the inventory the driver reported', async () => {
    const list = (await admin.req('GET', '/os-hypervisors/detail', undefined, mv('2.53'))).body
      .hypervisors;
    const b = list.find((h: any) => h.hypervisor_hostname === 'node-b');
    assert.equal(b.vcpus, 32);
    assert.equal(b.memory_mb, 16384);
    assert.equal(b.local_gb, 200);
    assert.equal(b.hypervisor_type, 'fake');
    assert.deepEqual(b.cpu_info, { model: 'fake' }, 'an object from 2.28');
    const shown = (await admin.req('GET', `/os-hypervisors/${b.id}`, undefined, mv('2.88'))).body
      .hypervisor;
    assert.equal(shown.vcpus, undefined, 'counters are gone at 2.88');
    assert.match(shown.uptime, /up since/);
    const legacy = (await admin.get('/os-hypervisors')).body.hypervisors.find(
      (h: any) => h.hypervisor_hostname === 'node-b',
    );
    assert.equal(
      (await admin.get(`/os-hypervisors/${legacy.id}`)).body.hypervisor.hypervisor_hostname,
      'node-b',
      'integer ids resolve before 2.53',
    );
  });

  it('disables a service with a reason and enables it again; the zone follows', async () => {
    const a = (await admin.req('GET', '/os-services?host=node-a', undefined, mv('2.53'))).body
      .services[0];
    const off = await admin.req(
      'PUT',
      `/os-services/${a.id}`,
      { status: 'disabled', disabled_reason: 'maintenance' },
      mv('2.53'),
    );
    assert.equal(off.status, 200);
    assert.deepEqual(
      [off.body.service.status, off.body.service.disabled_reason],
      ['disabled', 'maintenance'],
    );
    assert.equal(
      (
        await admin.req(
          'PUT',
          `/os-services/${a.id}`,
          { status: 'enabled', disabled_reason: 'x' },
          mv('2.53'),
        )
      ).status,
      400,
    );
    const zones = (await alice.get('/os-availability-zone')).body.availabilityZoneInfo;
    assert.deepEqual(
      zones,
      [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }],
      'node-b keeps the zone available',
    );
    const legacy = await admin.put('/os-services/enable');
    assert.equal(legacy.status, 400, 'the old form needs host and binary');
    const on = await admin.req('PUT', '/os-services/enable', {
      host: 'node-a',
      binary: 'nova-compute',
    });
    assert.deepEqual(on.body.service, {
      host: 'node-a',
      binary: 'nova-compute',
      status: 'enabled',
    });
    const detail = (await admin.get('/os-availability-zone/detail')).body.availabilityZoneInfo[0];
    assert.deepEqual(Object.keys(detail.hosts).sort(), ['node-a', 'node-b']);
  });

  it('forces a host down, and marks a host that stopped heartbeating down', async () => {
    const b = (await admin.req('GET', '/os-services?host=node-b', undefined, mv('2.53'))).body
      .services[0];
    const forced = await admin.req(
      'PUT',
      `/os-services/${b.id}`,
      { forced_down: true },
      mv('2.53'),
    );
    assert.deepEqual([forced.body.service.forced_down, forced.body.service.state], [true, 'down']);
    await admin.req('PUT', `/os-services/${b.id}`, { forced_down: false }, mv('2.53'));
    const a = agents[0]!;
    await a.stop();
    // As if node-a's last heartbeat had been long ago.
    await cloud.database.db
      .updateTable('compute_hosts')
      .set({ last_seen: Date.now() - 120_000 })
      .where('host', '=', 'node-a')
      .execute();
    const states = (await admin.get('/os-services')).body.services.map(
      (s: any) => `${s.host}:${s.state}`,
    );
    assert.deepEqual(states, ['node-a:down', 'node-b:up']);
    assert.equal(
      (
        await admin.req(
          'DELETE',
          `/os-services/${(await admin.req('GET', '/os-services?host=node-a', undefined, mv('2.53'))).body.services[0].id}`,
          undefined,
          mv('2.53'),
        )
      ).status,
      204,
    );
    assert.deepEqual(
      (await admin.get('/os-services')).body.services.map((s: any) => s.host),
      ['node-b'],
    );
  });
});
