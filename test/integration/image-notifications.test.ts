// Image notifications on the bus: a subscriber on topic 'notifications' sees Glance's events for an
// image's life (create, update, prepare/upload/activate, send, delete), its members and an import
// task, in order, from publisher image.<host>, each parsing against the catalogue.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, projectUser, type Api } from '../support/client.ts';
import { createMemoryBus } from '../../src/platform/bus/memory.ts';
import type { Bus } from '../../src/platform/bus/bus.ts';
import { listen, type NotificationOf } from '../../src/platform/bus/notifications.ts';
import {
  IMAGE_NOTIFICATIONS,
  IMAGE_NOTIFICATION_TOPIC,
  type ImageCatalogue,
} from '../../src/image/index.ts';

type Heard = NotificationOf<ImageCatalogue>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

/** The image (or task) a notification is about. */
function subject(n: Heard): string {
  const p = n.payload;
  return 'bytes_sent' in p || 'member_id' in p ? p.image_id : p.id;
}

describe('image notifications', () => {
  let cloud: TestCloud;
  let bus: Bus;
  let alice: Api;
  let aliceProject: string;
  let aliceUser: string;
  let bobProject: string;
  let bob: Api;
  const heard: Heard[] = [];
  const skipped: string[] = [];

  /** Waits until `count` notifications about `id` arrived, then a little more: none may follow. */
  async function about(id: string, count: number): Promise<Heard[]> {
    const of = () => heard.filter((n) => subject(n) === id);
    for (const end = Date.now() + 5000; of().length < count; await sleep(5))
      assert.ok(Date.now() < end, `only ${of().map((n) => n.event_type)} heard`);
    await sleep(30);
    return of();
  }

  before(async () => {
    cloud = await startTestCloud();
    bus = createMemoryBus();
    cloud.image.notifyOn(bus, 'note-host');
    await listen(bus, IMAGE_NOTIFICATION_TOPIC, IMAGE_NOTIFICATIONS, (n) => void heard.push(n), {
      skipped: (e, err) => skipped.push(`${e}: ${err.message}`),
    });
    const identity = await adminApi(cloud.app);
    ({
      api: alice,
      projectId: aliceProject,
      userId: aliceUser,
    } = await projectUser(identity, 'alice'));
    ({ api: bob, projectId: bobProject } = await projectUser(identity, 'bob'));
    alice = alice.on('/image');
    bob = bob.on('/image');
  });
  after(async () => {
    await cloud.close();
    await bus.close();
  });

  it("announces an image's life in order, with Glance's payload and publisher", async () => {
    const created = await alice.post('/v2/images', {
      name: 'noted',
      disk_format: 'raw',
      container_format: 'bare',
      os_distro: 'nubes',
      tags: ['t1'],
    });
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    const patched = await alice.req(
      'PATCH',
      `/v2/images/${id}`,
      [{ op: 'add', path: '/min_ram', value: 64 }],
      PATCH,
    );
    assert.equal(patched.status, 200);
    const data = randomBytes(3 * 65536 + 17);
    assert.equal((await alice.req('PUT', `/v2/images/${id}/file`, data)).status, 204);
    const down = await alice.get(`/v2/images/${id}/file`);
    assert.equal(down.status, 200);
    assert.equal((await alice.del(`/v2/images/${id}`)).status, 204);

    const got = await about(id, 7);
    assert.deepEqual(
      got.map((n) => n.event_type),
      [
        'image.create',
        'image.update',
        'image.prepare',
        'image.upload',
        'image.activate',
        'image.send',
        'image.delete',
      ],
    );
    for (const n of got) {
      assert.equal(n.publisher_id, 'image.note-host');
      assert.equal(n.priority, 'INFO');
      assert.ok(!Number.isNaN(Date.parse(n.timestamp)));
    }
    const [create, update, prepare, upload, activate, send, del] = got.map((n) => n.payload) as [
      any,
      any,
      any,
      any,
      any,
      any,
      any,
    ];
    assert.equal(create.name, 'noted');
    assert.equal(create.status, 'queued');
    assert.equal(create.owner, aliceProject);
    assert.equal(create.visibility, 'shared');
    assert.equal(create.is_public, false);
    assert.equal(create.disk_format, 'raw');
    assert.equal(create.container_format, 'bare');
    assert.equal(create.size, null);
    assert.equal(create.properties.os_distro, 'nubes');
    assert.deepEqual(create.tags, ['t1']);
    assert.equal(create.deleted, false);
    assert.equal(update.min_ram, 64);
    assert.equal(prepare.status, 'saving');
    const md5 = createHash('md5').update(data).digest('hex');
    for (const p of [upload, activate]) {
      assert.equal(p.status, 'active');
      assert.equal(p.size, data.length);
      assert.equal(p.checksum, md5);
    }
    assert.deepEqual(send, {
      bytes_sent: data.length,
      image_id: id,
      owner_id: aliceProject,
      receiver_tenant_id: aliceProject,
      receiver_user_id: aliceUser,
    });
    assert.equal(del.deleted, true);
    assert.ok(!Number.isNaN(Date.parse(del.deleted_at)));
    assert.equal(del.id, id);
    // The store's key for the data is internal: no payload names it.
    for (const n of got) assert.doesNotMatch(JSON.stringify(n), /location|stage_key/);
    assert.deepEqual(skipped, []);
  });

  it('still answers when the bus cannot take a notification', async () => {
    const dead = createMemoryBus();
    await dead.close(); // every send now fails
    cloud.image.notifyOn(dead, 'note-host');
    try {
      const r = await alice.post('/v2/images', {
        name: 'unheard',
        disk_format: 'raw',
        container_format: 'bare',
      });
      assert.equal(r.status, 201);
      assert.equal(
        (await alice.req('PUT', `/v2/images/${r.body.id}/file`, randomBytes(512))).status,
        204,
      );
      assert.equal((await alice.del(`/v2/images/${r.body.id}`)).status, 204);
    } finally {
      cloud.image.notifyOn(bus, 'note-host');
    }
  });

  it('announces a member offered, accepted and removed', async () => {
    const img = (
      await alice.post('/v2/images', {
        name: 'shared',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body;
    assert.equal(
      (await alice.post(`/v2/images/${img.id}/members`, { member: bobProject })).status,
      200,
    );
    const accept = await bob.req('PUT', `/v2/images/${img.id}/members/${bobProject}`, {
      status: 'accepted',
    });
    assert.equal(accept.status, 200);
    assert.equal((await alice.del(`/v2/images/${img.id}/members/${bobProject}`)).status, 204);
    const got = (await about(img.id, 4)).slice(1);
    assert.deepEqual(
      got.map((n) => [n.event_type, (n.payload as any).member_id, (n.payload as any).status]),
      [
        ['image.member.create', bobProject, 'pending'],
        ['image.member.update', bobProject, 'accepted'],
        ['image.member.delete', bobProject, 'accepted'],
      ],
    );
    assert.equal((got[2]!.payload as any).deleted, true);
  });

  it('announces a glance-direct import: its task and the image becoming active', async () => {
    const img = (
      await alice.post('/v2/images', {
        name: 'imported',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body;
    assert.equal(
      (await alice.req('PUT', `/v2/images/${img.id}/stage`, Buffer.alloc(8192, 7))).status,
      204,
    );
    const started = await alice.post(`/v2/images/${img.id}/import`, {
      method: { name: 'glance-direct' },
    });
    assert.equal(started.status, 202);
    await cloud.image.data.drain();
    const got = await about(img.id, 4);
    assert.deepEqual(
      got.map((n) => [n.event_type, (n.payload as { status: string }).status]),
      [
        ['image.create', 'queued'],
        ['image.prepare', 'importing'],
        ['image.upload', 'active'],
        ['image.activate', 'active'],
      ],
    );
    const taskId = (await alice.get(`/v2/images/${img.id}`)).body.os_glance_import_task as string;
    const task = await about(taskId, 3);
    assert.deepEqual(
      task.map((n) => [n.event_type, (n.payload as { status: string }).status]),
      [
        ['task.create', 'processing'],
        ['task.processing', 'processing'],
        ['task.success', 'success'],
      ],
    );
    for (const n of task) {
      assert.equal((n.payload as any).owner, aliceProject);
      assert.equal((n.payload as any).type, 'api_image_import');
    }
  });
});
