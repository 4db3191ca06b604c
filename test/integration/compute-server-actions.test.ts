// Server actions through the API down to fake hosts and back: power, pause, suspend, rescue, lock,
// resize with confirm and revert (claims follow the flavor), shelve and unshelve (the host is given
// back and taken again), rebuild, snapshots into the image service, console output, metadata and
// the instance action log with its events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import type { Api } from '../support/client.ts';
import { busImageTransfer } from '../../src/compute/agent/image-over-bus.ts';

describe('server actions', () => {
  let c: ComputeCloud;
  let alice: Api;
  let admin: Api;
  let id: string;
  const act = (api: Api, body: unknown, headers: Record<string, string> = {}) =>
    api.req('POST', `/servers/${id}/action`, body, headers);

  before(async () => {
    c = await startComputeCloud({ 'node-a': { vcpus: 8, memoryMb: 16384, diskGb: 200 } });
    ({ alice, admin } = c);
    const r = await c.boot(alice, { name: 'acted', flavorRef: '1' });
    id = r.body.server.id;
    await waitFor(alice, id, ['ACTIVE']);
  });
  after(async () => {
    await c.close();
  });

  it('stops and starts, with a 409 naming the state for an action that does not fit it', async () => {
    assert.equal((await act(alice, { 'os-stop': null })).status, 202);
    const off = await waitFor(alice, id, ['SHUTOFF']);
    assert.equal(off['OS-EXT-STS:power_state'], 4);
    const again = await act(alice, { 'os-stop': null });
    assert.equal(again.status, 409);
    assert.match(
      again.body.conflictingRequest.message,
      /Cannot 'stop' instance .* while it is in vm_state stopped/,
    );
    assert.equal((await act(alice, { 'os-start': null })).status, 202);
    assert.equal((await waitFor(alice, id, ['ACTIVE']))['OS-EXT-STS:power_state'], 1);
  });

  it('reboots soft and hard, pauses, suspends and rescues', async () => {
    for (const [body, during, after] of [
      [{ reboot: { type: 'SOFT' } }, null, 'ACTIVE'],
      [{ reboot: { type: 'HARD' } }, null, 'ACTIVE'],
      [{ pause: null }, null, 'PAUSED'],
      [{ unpause: null }, null, 'ACTIVE'],
      [{ suspend: null }, null, 'SUSPENDED'],
      [{ resume: null }, null, 'ACTIVE'],
      [{ rescue: null }, null, 'RESCUE'],
      [{ unrescue: null }, null, 'ACTIVE'],
    ] as const) {
      const r = await act(alice, body);
      assert.equal(
        r.status,
        'rescue' in body ? 200 : 202,
        `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`,
      );
      if ('rescue' in body) assert.equal(typeof r.body.adminPass, 'string');
      void during;
      await waitFor(alice, id, [after]);
    }
    assert.equal((await act(alice, { reboot: { type: 'gentle' } })).status, 400);
    assert.equal((await act(alice, { fly: null })).status, 400);
  });

  it('locks: the owner cannot act on a locked server, an admin can, and it shows from 2.9 with a reason from 2.73', async () => {
    assert.equal(
      (await act(alice, { lock: { locked_reason: 'maintenance' } }, mv('2.73'))).status,
      202,
    );
    const shown = (await alice.req('GET', `/servers/${id}`, undefined, mv('2.73'))).body.server;
    assert.equal(shown.locked, true);
    assert.equal(shown.locked_reason, 'maintenance');
    const refused = await act(alice, { 'os-stop': null });
    assert.equal(refused.status, 409);
    assert.match(refused.body.conflictingRequest.message, /locked/);
    assert.equal((await alice.del(`/servers/${id}`)).status, 409, 'a locked server is not deleted');
    assert.equal((await c.bob.req('POST', `/servers/${id}/action`, { unlock: null })).status, 404);
    assert.equal((await act(alice, { unlock: null })).status, 202);
    assert.equal(
      (await alice.req('GET', `/servers/${id}`, undefined, mv('2.9'))).body.server.locked,
      false,
    );
  });

  it('resizes in place to VERIFY_RESIZE, then confirms; resizes again and reverts to the old flavor', async () => {
    const usage = async () => (await c.cloud.compute.scheduler.usage('node-a'))[0]!.used;
    assert.deepEqual(await usage(), { vcpus: 1, memoryMb: 512, diskGb: 1 });
    assert.equal((await act(alice, { resize: { flavorRef: '2' } })).status, 202);
    let s = await waitFor(alice, id, ['VERIFY_RESIZE']);
    assert.equal(s.flavor.id, '2');
    assert.deepEqual(
      await usage(),
      { vcpus: 2, memoryMb: 2560, diskGb: 21 },
      'old and new flavor are both held until confirm',
    );
    assert.equal((await act(alice, { confirmResize: null })).status, 204);
    s = await waitFor(alice, id, ['ACTIVE']);
    assert.deepEqual(await usage(), { vcpus: 1, memoryMb: 2048, diskGb: 20 });
    assert.equal(
      (await act(alice, { resize: { flavorRef: '2' } })).status,
      400,
      'the same flavor is refused',
    );
    assert.equal((await act(alice, { resize: { flavorRef: '3' } })).status, 202);
    await waitFor(alice, id, ['VERIFY_RESIZE']);
    assert.equal((await act(alice, { revertResize: null })).status, 202);
    s = await waitFor(alice, id, ['ACTIVE']);
    assert.equal(s.flavor.id, '2', 'reverted to the flavor before the resize');
    assert.deepEqual(await usage(), { vcpus: 1, memoryMb: 2048, diskGb: 20 });
    const resized = (await alice.get('/limits')).body.limits.absolute;
    assert.equal(resized.totalRAMUsed, 2048, 'quota usage follows the flavor');
  });

  it('shelves (its disk kept as an image, the host given back) and unshelves from that image onto a host again', async () => {
    assert.equal((await act(alice, { shelve: null })).status, 202);
    const s = await waitFor(alice, id, ['SHELVED_OFFLOADED']);
    assert.equal(s.hostId, '');
    assert.deepEqual((await c.cloud.compute.scheduler.usage('node-a'))[0]!.used, {
      vcpus: 0,
      memoryMb: 0,
      diskGb: 0,
    });
    const images = alice.on('/image');
    const shelved = (await images.get(`/v2/images?name=acted-shelved`)).body.images;
    assert.equal(shelved.length, 1, 'the disk is kept as a private image named <server>-shelved');
    assert.equal(shelved[0].status, 'active');
    assert.equal(shelved[0].instance_uuid, id);
    assert.equal(shelved[0].visibility, 'private');
    assert.equal((await act(alice, { unshelve: null })).status, 202);
    await waitFor(alice, id, ['ACTIVE']);
    assert.equal((await admin.get(`/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'], 'node-a');
    const log = (await act(alice, { 'os-getConsoleOutput': {} })).body.output as string;
    assert.match(
      log,
      new RegExp(`from image ${shelved[0].id}`),
      'the host booted the shelved disk, not the original image',
    );
    // The image goes just after the server is ACTIVE again (completions.ts `after`): poll briefly.
    let gone = 0;
    for (let n = 0; n < 200; n++) {
      gone = (await images.get(`/v2/images/${shelved[0].id}`)).status;
      if (gone === 404) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.equal(gone, 404, 'unshelved, the image has done its job');
  });

  it('rebuilds from an image, keeping the id', async () => {
    const r = await act(alice, {
      rebuild: { imageRef: c.imageId, name: 'rebuilt', metadata: { v: '2' } },
    });
    assert.equal(r.status, 202);
    assert.equal(r.body.server.id, id);
    const s = await waitFor(alice, id, ['ACTIVE']);
    assert.equal(s.name, 'rebuilt');
    assert.deepEqual(s.metadata, { v: '2' });
  });

  it('snapshots into a new image in the image service (image_id body from 2.45, Location before)', async () => {
    const r = await act(
      alice,
      { createImage: { name: 'snap', metadata: { why: 'backup' } } },
      mv('2.45'),
    );
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const imageId = r.body.image_id;
    await waitFor(alice, id, ['ACTIVE']);
    const images = alice.on('/image');
    let img: any;
    for (let n = 0; n < 200; n++) {
      img = (await images.get(`/v2/images/${imageId}`)).body;
      if (img.status === 'active') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.equal(img.status, 'active');
    assert.equal(img.instance_uuid, id);
    assert.equal(img.why, 'backup');
    assert.equal(img.image_type, 'snapshot');
    // The snapshot's task ends just after its image is active: a second one waits for that.
    for (let n = 0; n < 200; n++) {
      const s = (await alice.get(`/servers/${id}`)).body.server;
      if (s['OS-EXT-STS:task_state'] === null) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const legacy = await act(alice, { createImage: { name: 'snap2' } });
    assert.match(String(legacy.headers['location']), /\/image\/images\/[0-9a-f-]{36}$/);
    await waitFor(alice, id, ['ACTIVE']);
  });

  it('serves image bytes to, and takes snapshots from, an agent that reaches the cloud only over the bus', async () => {
    const remote = busImageTransfer(c.bus);
    const data = Buffer.concat(await (await remote.open(c.imageId)).toArray());
    assert.equal(data.length, 1024 * 1024, 'the whole image, read in ranges over the bus');
    assert.ok(data.every((b: number) => b === 0));
    await c.addHost('node-remote', { vcpus: 8, memoryMb: 16384, diskGb: 200 }, remote);
    const r = await admin.post('/servers', {
      server: {
        name: 'far',
        imageRef: c.imageId,
        flavorRef: '1',
        availability_zone: 'nova:node-remote',
      },
    });
    const far = r.body.server.id;
    await waitFor(admin, far, ['ACTIVE']);
    const snap = await admin.req(
      'POST',
      `/servers/${far}/action`,
      { createImage: { name: 'far-snap' } },
      mv('2.45'),
    );
    assert.equal(snap.status, 202);
    const images = admin.on('/image');
    let img: any;
    for (let n = 0; n < 200; n++) {
      img = (await images.get(`/v2/images/${snap.body.image_id}`)).body;
      if (img.status === 'active') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.equal(img.status, 'active');
    const bytes = (await images.get(`/v2/images/${snap.body.image_id}/file`)).raw.toString();
    assert.equal(bytes, `fake disk of ${far}\n`, 'the snapshot data came over the bus');
    await admin.del(`/servers/${far}`);
    await waitFor(admin, far, ['DELETED']);
  });

  it('shows the console output, all of it or its last lines', async () => {
    const all = (await act(alice, { 'os-getConsoleOutput': {} })).body.output;
    assert.match(all, /fake: spawned/);
    const last = (await act(alice, { 'os-getConsoleOutput': { length: 1 } })).body.output;
    assert.equal(last.trim().split('\n').length, 1);
  });

  it('updates the name and metadata', async () => {
    assert.equal(
      (await alice.req('PUT', `/servers/${id}`, { server: { name: 'renamed' } })).body.server.name,
      'renamed',
    );
    assert.equal((await alice.req('PUT', `/servers/${id}`, { server: { nope: 1 } })).status, 400);
    assert.deepEqual(
      (await alice.post(`/servers/${id}/metadata`, { metadata: { a: '1' } })).body.metadata,
      { v: '2', a: '1' },
    );
    assert.deepEqual(
      (await alice.req('PUT', `/servers/${id}/metadata/b`, { meta: { b: '2' } })).body.meta,
      { b: '2' },
    );
    assert.equal((await alice.del(`/servers/${id}/metadata/a`)).status, 204);
    assert.deepEqual((await alice.get(`/servers/${id}/metadata`)).body.metadata, {
      v: '2',
      b: '2',
    });
    assert.equal((await alice.del(`/servers/${id}/metadata/zzz`)).status, 404);
  });

  it('keeps the action log with events (events for admins, and for everyone from 2.51)', async () => {
    const list = (await alice.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
    const names = list.map((a: any) => a.action);
    for (const n of [
      'create',
      'stop',
      'start',
      'reboot',
      'pause',
      'resize',
      'confirmResize',
      'revertResize',
      'shelve',
      'unshelve',
      'rebuild',
      'createImage',
      'lock',
      'unlock',
    ]) {
      assert.ok(names.includes(n), `${n} is recorded`);
    }
    assert.equal(names.at(-1), 'create', 'newest first');
    const create = list.at(-1);
    const asUser = (await alice.get(`/servers/${id}/os-instance-actions/${create.request_id}`)).body
      .instanceAction;
    assert.equal(asUser.events, undefined, 'no events for users at 2.1');
    const withEvents = (
      await alice.req(
        'GET',
        `/servers/${id}/os-instance-actions/${create.request_id}`,
        undefined,
        mv('2.51'),
      )
    ).body.instanceAction;
    assert.equal(withEvents.events[0].event, 'compute__do_build_and_run_instance');
    assert.equal(withEvents.events[0].result, 'Success');
    assert.equal(withEvents.events[0].traceback, undefined);
    const asAdmin = (await admin.get(`/servers/${id}/os-instance-actions/${create.request_id}`))
      .body.instanceAction;
    assert.equal(asAdmin.events[0].result, 'Success');
  });

  it('lets an admin reset the state, and deletes', async () => {
    assert.equal((await act(alice, { 'os-resetState': { state: 'error' } })).status, 403);
    assert.equal((await act(admin, { 'os-resetState': { state: 'error' } })).status, 202);
    assert.equal((await alice.get(`/servers/${id}`)).body.server.status, 'ERROR');
    assert.equal((await alice.del(`/servers/${id}`)).status, 204);
    await waitFor(alice, id, ['DELETED']);
    assert.deepEqual(c.drivers.get('node-a')!.used(), { vcpus: 0, memoryMb: 0, diskGb: 0 });
  });
});
