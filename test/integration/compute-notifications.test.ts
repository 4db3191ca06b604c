// Compute's versioned notifications on the bus: a subscriber on topic 'versioned_notifications'
// sees a server's create and delete, and its actions, as start/end pairs in order, each with the
// instance's state at that moment; a build that fails everywhere ends in instance.create.error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import { listen, type NotificationOf } from '../../src/platform/bus/notifications.ts';
import {
  COMPUTE_NOTIFICATIONS,
  INSTANCE_PAYLOAD_VERSION,
  NOTIFICATION_TOPIC,
} from '../../src/compute/service/notifications.ts';

type Heard = NotificationOf<typeof COMPUTE_NOTIFICATIONS>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('compute notifications', () => {
  let c: ComputeCloud;
  const heard: Heard[] = [];
  const skipped: string[] = [];
  const of = (id: string) => heard.filter((n) => n.payload['nova_object.data'].uuid === id);
  async function until(id: string, count: number): Promise<Heard[]> {
    for (const end = Date.now() + 10_000; of(id).length < count; await sleep(10))
      assert.ok(
        Date.now() < end,
        `only ${of(id)
          .map((n) => n.event_type)
          .join(', ')} heard`,
      );
    await sleep(50); // nothing more should come
    return of(id);
  }

  before(async () => {
    c = await startComputeCloud({ 'note-host': { vcpus: 8 } });
    await listen(c.bus, NOTIFICATION_TOPIC, COMPUTE_NOTIFICATIONS, (n) => void heard.push(n), {
      skipped: (e, err) => skipped.push(`${e}: ${err.message}`),
    });
  });
  after(async () => {
    await c.close();
  });

  it('announces a create and a delete, in order, with the instance as it was each time', async () => {
    const r = await c.boot(c.alice, { name: 'noted' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id as string;
    await waitFor(c.alice, id, ['ACTIVE']);
    assert.equal((await c.alice.del(`/servers/${id}`)).status, 204);
    await waitFor(c.alice, id, ['DELETED']);
    const got = await until(id, 4);
    assert.deepEqual(
      got.map((n) => n.event_type),
      [
        'instance.create.start',
        'instance.create.end',
        'instance.delete.start',
        'instance.delete.end',
      ],
    );
    const data = got.map((n) => n.payload['nova_object.data']);
    assert.deepEqual(
      data.map((d) => [d.state, d.task_state, d.power_state]),
      [
        ['building', 'spawning', 'nostate'],
        ['active', null, 'running'],
        ['active', 'deleting', 'running'],
        ['deleted', null, 'nostate'],
      ],
    );
    for (const n of got) {
      assert.equal(n.publisher_id, 'nova-compute:note-host');
      assert.equal(n.priority, 'INFO');
      assert.equal(n.payload['nova_object.version'], INSTANCE_PAYLOAD_VERSION);
      const d = n.payload['nova_object.data'];
      assert.equal(d.host, 'note-host');
      assert.equal(d.display_name, 'noted');
      assert.equal(d.tenant_id, c.aliceProject);
      assert.notEqual(d.user_id, '');
      assert.equal(d.image_uuid, c.imageId);
      assert.equal(d.flavor.flavorid, '1');
      assert.equal(typeof d.flavor.memory_mb, 'number');
    }
    assert.equal(data[0]!.launched_at, null);
    assert.notEqual(data[1]!.launched_at, null);
    assert.notEqual(data[3]!.terminated_at, null);
    assert.deepEqual(skipped, [], 'every notification parses against the catalogue');
  });

  it('announces actions as start/end pairs: stop and start', async () => {
    const r = await c.boot(c.alice, { name: 'switched' });
    const id = r.body.server.id as string;
    await waitFor(c.alice, id, ['ACTIVE']);
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-stop': null })).status, 202);
    await waitFor(c.alice, id, ['SHUTOFF']);
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-start': null })).status, 202);
    await waitFor(c.alice, id, ['ACTIVE']);
    const got = (await until(id, 6)).slice(2);
    assert.deepEqual(
      got.map((n) => [n.event_type, n.payload['nova_object.data'].state]),
      [
        ['instance.power_off.start', 'active'],
        ['instance.power_off.end', 'stopped'],
        ['instance.power_on.start', 'stopped'],
        ['instance.power_on.end', 'active'],
      ],
    );
  });

  it('announces a build that fails on every host as instance.create.error, with the fault', async () => {
    await c.addHost('broken-host', { vcpus: 64, failSpawn: () => true });
    // Pinned to the broken host (admins may name one): its spawn fails, and no other host may retry it.
    const r = await c.boot(c.admin, { name: 'doomed', availability_zone: 'nova:broken-host' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id as string;
    await waitFor(c.admin, id, ['ERROR']);
    const got = await until(id, 2);
    assert.deepEqual(
      got.map((n) => [n.event_type, n.priority]),
      [
        ['instance.create.start', 'INFO'],
        ['instance.create.error', 'ERROR'],
      ],
    );
    const d = got[1]!.payload['nova_object.data'];
    assert.equal(d.state, 'error');
    assert.match(d.fault ?? '', /No valid host was found/);
    // The build was sent to the host; its end is the scheduler's, with no host left.
    assert.deepEqual(
      got.map((n) => n.publisher_id),
      ['nova-compute:broken-host', 'nova-conductor'],
    );
  });
});
