// What a host does on its own reaches the cloud: a guest whose process dies ends SHUTOFF with a
// fault and a 'stop' action by the cloud; one that shuts itself down ends SHUTOFF without a fault;
// a guest found running while the cloud has it stopped is powered off; a change nobody watched is
// found by the periodic power sync. Instances with work under way are left to that work.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import type { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import type { HostAgent } from '../../src/compute/agent/host-agent.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('power sync between hosts and the cloud', () => {
  let c: ComputeCloud;
  let driver: FakeDriver;
  let agent: HostAgent;

  before(async () => {
    c = await startComputeCloud({});
    agent = await c.addHost('power-host', { vcpus: 8 }, undefined, { powerSyncMs: 100 });
    driver = c.drivers.get('power-host')!;
  });
  after(async () => {
    await c.close();
  });

  const boot = async (name: string) => {
    const r = await c.boot(c.alice, { name });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitFor(c.alice, r.body.server.id, ['ACTIVE']);
    return r.body.server.id as string;
  };

  it('records a guest whose process died as SHUTOFF, with the fault in a stop action by the cloud', async () => {
    const id = await boot('killed');
    driver.simulate(
      id,
      'shutdown',
      "The instance's QEMU process exited unexpectedly (killed or crashed) without shutting the guest down.",
    );
    const s = await waitFor(c.alice, id, ['SHUTOFF']);
    assert.equal(s['OS-EXT-STS:power_state'], 4);
    assert.equal(s['OS-EXT-STS:task_state'], null);
    // As Nova: the stop is an action of the server, by nobody; its event failed, and says why to admins.
    const list = await c.alice.req(
      'GET',
      `/servers/${id}/os-instance-actions`,
      undefined,
      mv('2.84'),
    );
    const stop = list.body.instanceActions.find((a: { action: string }) => a.action === 'stop');
    assert.ok(stop, JSON.stringify(list.body));
    assert.equal(stop.user_id, null);
    assert.equal(stop.message, 'Error');
    const shown = await c.admin.req(
      'GET',
      `/servers/${id}/os-instance-actions/${stop.request_id}`,
      undefined,
      mv('2.84'),
    );
    assert.equal(shown.body.instanceAction.events[0].event, 'compute_stop_instance');
    assert.match(shown.body.instanceAction.events[0].details, /exited unexpectedly/);
    // The server starts again as usual.
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-start': null })).status, 202);
    assert.equal((await waitFor(c.alice, id, ['ACTIVE']))['OS-EXT-STS:power_state'], 1);
  });

  it('records a guest that shut itself down as SHUTOFF with a clean stop action', async () => {
    const id = await boot('poweroff-inside');
    driver.simulate(id, 'shutdown', null);
    await waitFor(c.alice, id, ['SHUTOFF']);
    const list = await c.alice.req(
      'GET',
      `/servers/${id}/os-instance-actions`,
      undefined,
      mv('2.58'),
    );
    const stop = list.body.instanceActions.find((a: { action: string }) => a.action === 'stop');
    assert.equal(stop.message, null);
  });

  it('powers off a guest that runs while the cloud has it stopped, and finds changes nobody reported', async () => {
    const id = await boot('revived');
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-stop': null })).status, 202);
    await waitFor(c.alice, id, ['SHUTOFF']);
    // Started behind the cloud's back, with no event: the periodic sync finds it and the agent stops it.
    driver.simulate(id, 'running', null, { silent: true });
    for (const until = Date.now() + 10_000; (await driver.powerState(id)) !== 'shutdown';) {
      assert.ok(Date.now() < until, 'the agent powers the guest off again');
      await sleep(20);
    }
    assert.equal((await c.alice.get(`/servers/${id}`)).body.server.status, 'SHUTOFF');
    // Paused on its host with no event: the sync records the power state (the server stays ACTIVE, as in Nova).
    const other = await boot('paused-quietly');
    driver.simulate(other, 'paused', null, { silent: true });
    for (
      const until = Date.now() + 10_000;
      (await c.alice.get(`/servers/${other}`)).body.server['OS-EXT-STS:power_state'] !== 3;
    ) {
      assert.ok(Date.now() < until, 'the power state follows the host');
      await sleep(20);
    }
    assert.equal((await c.alice.get(`/servers/${other}`)).body.server.status, 'ACTIVE');
  });

  it('leaves an instance with work under way to that work', async () => {
    const id = await boot('busy');
    // The agent is gone, so the stop stays under way (its work waits on the bus).
    await agent.stop();
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-stop': null })).status, 202);
    const r = await c.bus.call('compute.conductor', 'host.power', {
      host: 'power-host',
      instances: [{ uuid: id, power_state: 'shutdown', fault: 'gone during the stop' }],
    });
    assert.deepEqual(r, { stop: [] });
    const s = (await c.alice.get(`/servers/${id}`)).body.server;
    assert.equal(s.status, 'ACTIVE');
    assert.equal(
      s['OS-EXT-STS:task_state'],
      'powering-off',
      'the stop in flight reports for itself',
    );
    const list = await c.alice.get(`/servers/${id}/os-instance-actions`);
    assert.deepEqual(list.body.instanceActions.map((a: { action: string }) => a.action).sort(), [
      'create',
      'stop',
    ]);
    assert.notEqual(
      list.body.instanceActions.find((a: { action: string }) => a.action === 'stop').user_id,
      null,
      "only alice's own stop, none by the cloud",
    );
  });

  it('refuses a malformed power report with a 400-class error, changing nothing', async () => {
    await assert.rejects(
      c.bus.call('compute.conductor', 'host.power', {
        host: 'power-host',
        instances: [{ uuid: 'x', power_state: 'exploded', fault: null }],
      }),
      /power_state/,
    );
  });
});
