// Image v2 through the HTTP API: records, data in and out (byte-identical, ranges), the format
// checks on upload, JSON patch, visibility and members across projects, deactivation, protection,
// quotas, tags, pagination and Glance's fault bodies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, projectUser, type Api } from '../support/client.ts';
import { qemuImgCreate } from '../../src/host/qemu-img.ts';

const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };

describe('image API', () => {
  let cloud: TestCloud;
  let admin: Api;
  let alice: Api;
  let aliceProject: string;
  let bob: Api;
  let bobProject: string;
  let work: string;

  before(async () => {
    cloud = await startTestCloud();
    const identity = await adminApi(cloud.app);
    admin = identity.on('/image');
    ({ api: alice, projectId: aliceProject } = await projectUser(identity, 'alice'));
    ({ api: bob, projectId: bobProject } = await projectUser(identity, 'bob'));
    alice = alice.on('/image');
    bob = bob.on('/image');
    work = mkdtempSync(join(tmpdir(), 'nubes-image-test-'));
  });
  after(async () => {
    await cloud.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function newImage(api: Api, body: Record<string, unknown> = {}) {
    const r = await api.post('/v2/images', {
      name: 'img',
      disk_format: 'raw',
      container_format: 'bare',
      ...body,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as Record<string, any>;
  }

  it('creates a queued image with Glance fields and nulls for what is not known yet', async () => {
    const r = await alice.post('/v2/images', {
      name: 'cirros',
      disk_format: 'qcow2',
      container_format: 'bare',
      os_distro: 'cirros',
      tags: ['a', 'a', 'b'],
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers['location'], `http://nubes.test/image/v2/images/${r.body.id}`);
    assert.match(String(r.headers['openstack-image-import-methods']), /glance-direct/);
    const img = r.body;
    assert.match(img.id, /^[0-9a-f-]{36}$/);
    assert.equal(img.status, 'queued');
    assert.equal(img.visibility, 'shared', "Glance's default visibility");
    assert.equal(img.owner, aliceProject);
    assert.equal(img.os_distro, 'cirros', 'extra properties sit at the top level');
    assert.deepEqual(img.tags, ['a', 'b']);
    for (const k of ['size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value'])
      assert.equal(img[k], null, k);
    assert.match(img.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(img.self, `/v2/images/${img.id}`);
    assert.equal(img.file, `/v2/images/${img.id}/file`);
    assert.equal(img.schema, '/v2/schemas/image');
  });

  it('accepts a client-chosen id once, refuses read-only, reserved and mistyped attributes', async () => {
    const id = '8a5c3d2e-0b1f-4c6d-9e7a-1b2c3d4e5f60';
    assert.equal((await alice.post('/v2/images', { id, name: 'x' })).status, 201);
    const dup = await alice.post('/v2/images', { id, name: 'y' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, '409 Conflict');
    assert.match(dup.body.message, /already exists/);
    assert.equal((await alice.post('/v2/images', { status: 'active' })).status, 403);
    assert.equal((await alice.post('/v2/images', { os_glance_import_task: 'x' })).status, 403);
    assert.equal((await alice.post('/v2/images', { disk_format: 'exe' })).status, 400);
    assert.equal((await alice.post('/v2/images', { min_ram: -1 })).status, 400);
    assert.equal(
      (await alice.post('/v2/images', { custom: 5 })).status,
      400,
      'extra properties are strings',
    );
    const pub = await alice.post('/v2/images', { visibility: 'public' });
    assert.equal(pub.status, 403, 'only an admin publicizes');
    assert.equal(
      (await admin.post('/v2/images', { visibility: 'public', name: 'pub' })).status,
      201,
    );
  });

  it('stores uploaded data and gives it back byte for byte, with checksums and ranges', async () => {
    const img = await newImage(alice);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const up = await alice.req('PUT', `/v2/images/${img.id}/file`, data);
    assert.equal(up.status, 204, JSON.stringify(up.body));
    const shown = (await alice.get(`/v2/images/${img.id}`)).body;
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, data.length);
    assert.equal(shown.virtual_size, data.length);
    assert.equal(shown.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(shown.os_hash_algo, 'sha512');
    assert.equal(shown.os_hash_value, createHash('sha512').update(data).digest('hex'));
    const down = await alice.get(`/v2/images/${img.id}/file`);
    assert.equal(down.status, 200);
    assert.equal(down.headers['content-md5'], shown.checksum);
    assert.equal(down.headers['content-type'], 'application/octet-stream');
    assert.ok(down.raw.equals(data), 'download is byte-identical');
    const part = await alice.req('GET', `/v2/images/${img.id}/file`, undefined, {
      range: 'bytes=100-199',
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${data.length}`);
    assert.ok(part.raw.equals(data.subarray(100, 200)));
    const tail = await alice.req('GET', `/v2/images/${img.id}/file`, undefined, {
      range: 'bytes=-10',
    });
    assert.ok(tail.raw.equals(data.subarray(data.length - 10)));
    const beyond = await alice.req('GET', `/v2/images/${img.id}/file`, undefined, {
      range: `bytes=${data.length}-`,
    });
    assert.equal(beyond.status, 416);
    const again = await alice.req('PUT', `/v2/images/${img.id}/file`, data);
    assert.equal(again.status, 409, 'an active image takes no new data');
    const empty = await newImage(alice);
    assert.equal(
      (await alice.get(`/v2/images/${empty.id}/file`)).status,
      204,
      'a queued image has no data yet',
    );
  });

  it('reads the virtual size of a qcow2 and refuses data whose real format differs from the claim', async () => {
    const q = join(work, 'disk.qcow2');
    await qemuImgCreate(q, 'qcow2', 64 * 1024 * 1024);
    const img = await newImage(alice, { disk_format: 'qcow2' });
    assert.equal(
      (await alice.req('PUT', `/v2/images/${img.id}/file`, readFileSync(q))).status,
      204,
    );
    const shown = (await alice.get(`/v2/images/${img.id}`)).body;
    assert.equal(shown.virtual_size, 64 * 1024 * 1024);
    assert.equal(shown.size, readFileSync(q).length);

    const claimRaw = await newImage(alice, { disk_format: 'raw' });
    const r1 = await alice.req('PUT', `/v2/images/${claimRaw.id}/file`, readFileSync(q));
    assert.equal(r1.status, 415, "Glance's InvalidImageData");
    assert.match(r1.body.message, /data is qcow2, but disk_format is raw/);
    assert.equal(
      (await alice.get(`/v2/images/${claimRaw.id}`)).body.status,
      'queued',
      'refused data leaves the image queued',
    );
    const claimQcow = await newImage(alice, { disk_format: 'qcow2' });
    assert.equal(
      (await alice.req('PUT', `/v2/images/${claimQcow.id}/file`, randomBytes(4096))).status,
      415,
    );
  });

  it('rejects a qcow2 with a backing file or a data file, and a vmdk whose extents are elsewhere', async () => {
    const backed = join(work, 'backed.qcow2');
    await qemuImgCreate(backed, 'qcow2', 1024 * 1024, {
      backing: '/etc/passwd',
      backingFormat: 'raw',
    });
    const img = await newImage(alice, { disk_format: 'qcow2' });
    const r = await alice.req('PUT', `/v2/images/${img.id}/file`, readFileSync(backed));
    assert.equal(r.status, 415);
    assert.match(r.body.message, /backing file/);
    const after = (await alice.get(`/v2/images/${img.id}`)).body;
    assert.equal(after.status, 'queued');
    assert.equal(after.size, null);
    assert.equal((await alice.get(`/v2/images/${img.id}/file`)).status, 204, 'no data was kept');

    const withData = join(work, 'datafile.qcow2');
    await qemuImgCreate(withData, 'qcow2', 1024 * 1024, { dataFile: join(work, 'datafile.raw') });
    const img2 = await newImage(alice, { disk_format: 'qcow2' });
    const r2 = await alice.req('PUT', `/v2/images/${img2.id}/file`, readFileSync(withData));
    assert.equal(r2.status, 415);
    assert.match(r2.body.message, /data file/);

    const descriptor = Buffer.from(
      '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "/etc/shadow" 0\n',
    );
    const img3 = await newImage(alice, { disk_format: 'vmdk' });
    const r3 = await alice.req('PUT', `/v2/images/${img3.id}/file`, descriptor);
    assert.equal(r3.status, 415);
    assert.match(r3.body.message, /createType "monolithicFlat" is not allowed/);
  });

  it('updates by JSON patch with Glance semantics', async () => {
    const img = await newImage(alice, { foo: 'bar' });
    const ok = await alice.req(
      'PATCH',
      `/v2/images/${img.id}`,
      JSON.stringify([
        { op: 'replace', path: '/name', value: 'renamed' },
        { op: 'add', path: '/hw_disk_bus', value: 'virtio' },
        { op: 'remove', path: '/foo' },
        { op: 'replace', path: '/tags', value: ['x', 'y'] },
        { op: 'replace', path: '/min_ram', value: 256 },
      ]),
      PATCH,
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.name, 'renamed');
    assert.equal(ok.body.hw_disk_bus, 'virtio');
    assert.equal(ok.body.foo, undefined);
    assert.deepEqual(ok.body.tags, ['x', 'y']);
    assert.equal(ok.body.min_ram, 256);
    const cases: [unknown[], number, RegExp][] = [
      [[{ op: 'remove', path: '/missing' }], 409, /Property missing does not exist/],
      [[{ op: 'replace', path: '/missing', value: 'x' }], 409, /does not exist/],
      [[{ op: 'replace', path: '/status', value: 'active' }], 403, /read-only/],
      [[{ op: 'add', path: '/os_glance_x', value: 'y' }], 403, /reserved/],
      [[{ op: 'replace', path: '/visibility', value: 'public' }], 403, /publicize_image/],
      [[{ op: 'move', path: '/name', from: '/x' }], 400, /not supported/],
      [[{ op: 'add', path: '/a/b', value: 'x' }], 400, /Nested paths/],
      [[{ op: 'add', path: '/n', value: 5 }], 400, /not of type 'string'/],
    ];
    for (const [ops, status, message] of cases) {
      const r = await alice.req('PATCH', `/v2/images/${img.id}`, JSON.stringify(ops), PATCH);
      assert.equal(r.status, status, JSON.stringify(ops));
      assert.match(r.body.message, message);
    }
    const wrongType = await alice.req('PATCH', `/v2/images/${img.id}`, [
      { op: 'replace', path: '/name', value: 'z' },
    ]);
    assert.equal(wrongType.status, 415, 'a JSON patch must say it is one');
    assert.match(String(wrongType.headers['accept-patch']), /openstack-images-v2.1-json-patch/);
    assert.equal(
      (await alice.get(`/v2/images/${img.id}`)).body.name,
      'renamed',
      'refused patches changed nothing',
    );
  });

  it('hides private images from other projects, and shares through accepted membership', async () => {
    const priv = await newImage(alice, { visibility: 'private', name: 'secret' });
    assert.equal((await bob.get(`/v2/images/${priv.id}`)).status, 404);
    assert.ok(
      !(await bob.get('/v2/images?limit=1000')).body.images.some((i: any) => i.id === priv.id),
    );
    assert.equal(
      (await alice.post(`/v2/images/${priv.id}/members`, { member: bobProject })).status,
      403,
      'only shared images have members',
    );

    const shared = await newImage(alice, { visibility: 'shared', name: 'for-bob' });
    const add = await alice.post(`/v2/images/${shared.id}/members`, { member: bobProject });
    assert.equal(add.status, 200);
    assert.equal(add.body.status, 'pending');
    assert.equal(add.body.member_id, bobProject);
    assert.equal(
      (await alice.post(`/v2/images/${shared.id}/members`, { member: bobProject })).status,
      409,
    );
    assert.equal(
      (await bob.get(`/v2/images/${shared.id}`)).status,
      200,
      'a pending member can see the image by id',
    );
    const bobList = async (q = '') =>
      (await bob.get(`/v2/images?limit=1000${q}`)).body.images.map((i: any) => i.id);
    assert.ok(!(await bobList()).includes(shared.id), 'but not in its list until it accepts');
    assert.ok((await bobList('&member_status=pending&visibility=shared')).includes(shared.id));
    assert.equal((await alice.put(`/v2/images/${shared.id}/members/${bobProject}`)).status, 400);
    const notMine = await alice.req('PUT', `/v2/images/${shared.id}/members/${bobProject}`, {
      status: 'accepted',
    });
    assert.equal(notMine.status, 403, 'only the member decides');
    const accept = await bob.req('PUT', `/v2/images/${shared.id}/members/${bobProject}`, {
      status: 'accepted',
    });
    assert.equal(accept.status, 200);
    assert.equal(accept.body.status, 'accepted');
    assert.ok((await bobList()).includes(shared.id));
    const aliceShared = (
      await alice.get('/v2/images?visibility=shared&member_status=all&limit=1000')
    ).body.images.map((i: any) => i.id);
    assert.ok(aliceShared.includes(shared.id), 'visibility=shared lists the own shared images too');
    assert.equal(
      (await bob.post(`/v2/images/${shared.id}/members`, { member: 'other' })).status,
      403,
      'a member cannot share further',
    );
    assert.equal(
      (
        await bob.req(
          'PATCH',
          `/v2/images/${shared.id}`,
          JSON.stringify([{ op: 'replace', path: '/name', value: 'mine' }]),
          PATCH,
        )
      ).status,
      403,
    );
    const members = await alice.get(`/v2/images/${shared.id}/members`);
    assert.deepEqual(
      members.body.members.map((m: any) => m.member_id),
      [bobProject],
    );
    assert.equal((await alice.del(`/v2/images/${shared.id}/members/${bobProject}`)).status, 204);
    assert.equal((await bob.get(`/v2/images/${shared.id}`)).status, 404);
  });

  it('shows community images to all by id and in the community list only', async () => {
    const com = await newImage(alice, { visibility: 'community', name: 'community-img' });
    assert.equal((await bob.get(`/v2/images/${com.id}`)).status, 200);
    assert.ok(
      !(await bob.get('/v2/images?limit=1000')).body.images.some((i: any) => i.id === com.id),
    );
    assert.ok(
      (await bob.get('/v2/images?visibility=community')).body.images.some(
        (i: any) => i.id === com.id,
      ),
    );
    assert.ok(
      (await bob.get('/v2/images?visibility=all&limit=1000')).body.images.some(
        (i: any) => i.id === com.id,
      ),
    );
    assert.ok(
      (await alice.get('/v2/images?limit=1000')).body.images.some((i: any) => i.id === com.id),
      'the owner lists its own',
    );
    assert.ok(
      !(await admin.get('/v2/images?limit=1000')).body.images.some((i: any) => i.id === com.id),
      'not even admins by default',
    );
  });

  it('deactivates (admin only), refusing downloads to others, and reactivates', async () => {
    const img = await newImage(alice, { visibility: 'public' }).catch(() =>
      newImage(admin, { visibility: 'public' }),
    );
    await admin.req('PUT', `/v2/images/${img.id}/file`, randomBytes(1024));
    assert.equal(
      (await alice.post(`/v2/images/${img.id}/actions/deactivate`, undefined)).status,
      403,
    );
    assert.equal(
      (await admin.post(`/v2/images/${img.id}/actions/deactivate`, undefined)).status,
      204,
    );
    assert.equal((await admin.get(`/v2/images/${img.id}`)).body.status, 'deactivated');
    const refused = await alice.get(`/v2/images/${img.id}/file`);
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /deactivated/);
    assert.equal(
      (await admin.get(`/v2/images/${img.id}/file`)).status,
      200,
      'admins still read it',
    );
    assert.equal(
      (await admin.post(`/v2/images/${img.id}/actions/reactivate`, undefined)).status,
      204,
    );
    assert.equal((await alice.get(`/v2/images/${img.id}/file`)).status, 200);
    const queued = await newImage(admin);
    assert.equal(
      (await admin.post(`/v2/images/${queued.id}/actions/deactivate`, undefined)).status,
      403,
      'Glance refuses with 403',
    );
  });

  it('refuses to delete a protected image until unprotected', async () => {
    const img = await newImage(alice, { protected: true });
    const r = await alice.del(`/v2/images/${img.id}`);
    assert.equal(r.status, 403);
    assert.match(r.body.message, /protected/);
    await alice.req(
      'PATCH',
      `/v2/images/${img.id}`,
      JSON.stringify([{ op: 'replace', path: '/protected', value: false }]),
      PATCH,
    );
    assert.equal((await alice.del(`/v2/images/${img.id}`)).status, 204);
    assert.equal((await alice.get(`/v2/images/${img.id}`)).status, 404);
    assert.equal((await alice.del(`/v2/images/${img.id}`)).status, 404);
  });

  it('adds and removes tags one at a time', async () => {
    const img = await newImage(alice);
    assert.equal((await alice.put(`/v2/images/${img.id}/tags/blue`)).status, 204);
    assert.equal(
      (await alice.put(`/v2/images/${img.id}/tags/blue`)).status,
      204,
      'adding twice is fine',
    );
    assert.deepEqual((await alice.get(`/v2/images/${img.id}`)).body.tags, ['blue']);
    assert.ok(
      (await alice.get('/v2/images?tag=blue')).body.images.some((i: any) => i.id === img.id),
    );
    assert.equal((await alice.del(`/v2/images/${img.id}/tags/blue`)).status, 204);
    assert.equal((await alice.del(`/v2/images/${img.id}/tags/blue`)).status, 404);
  });

  it('pages with limit, marker and next links, sorts, and filters', async () => {
    const { api } = await projectUser(await adminApi(cloud.app), 'pager');
    const pager = api.on('/image');
    for (let i = 0; i < 7; i++)
      await newImage(pager, { name: `p${i}`, visibility: 'private', min_disk: i % 3 });
    const seen: string[] = [];
    let url: string | undefined = '/v2/images?limit=3&sort=name:asc&visibility=private';
    while (url) {
      const page: any = (await pager.get(url)).body;
      seen.push(...page.images.map((i: any) => i.name));
      url = page.next;
      assert.ok(page.images.length <= 3);
    }
    assert.deepEqual(seen, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    const byDisk = (
      await pager.get(
        '/v2/images?visibility=private&sort_key=min_disk&sort_dir=desc&sort_key=name&sort_dir=asc',
      )
    ).body.images.map((i: any) => i.name);
    assert.deepEqual(byDisk, ['p2', 'p5', 'p1', 'p4', 'p0', 'p3', 'p6']);
    const named = (await pager.get('/v2/images?name=in:p1,p4')).body.images
      .map((i: any) => i.name)
      .sort();
    assert.deepEqual(named, ['p1', 'p4']);
    assert.equal((await pager.get('/v2/images?sort_key=bogus')).status, 400);
    assert.equal(
      (await pager.get('/v2/images?marker=8a5c3d2e-0000-4c6d-9e7a-1b2c3d4e5f60')).status,
      400,
    );
    assert.equal((await pager.get('/v2/images?created_at=gte:not-a-date')).status, 400);
  });

  it("answers unknown images and routes in Glance's fault format", async () => {
    const missing = '/v2/images/00000000-0000-0000-0000-000000000000';
    const r = await alice.req('GET', missing, undefined, { accept: 'application/json' });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, {
      message: 'No image found with ID 00000000-0000-0000-0000-000000000000',
      code: '404 Not Found',
      title: 'Not Found',
    });
    const html = await alice.req('GET', missing, undefined, { accept: '*/*' });
    assert.match(
      String(html.headers['content-type']),
      /^text\/html/,
      'webob answers */* with HTML',
    );
    assert.match(html.raw.toString(), /<title>404 Not Found<\/title>[\s\S]*No image found with ID/);
    const noToken = await alice
      .on('/image')
      .req('GET', '/v2/images', undefined, { 'x-auth-token': 'bogus' });
    assert.equal(noToken.status, 401);
    assert.match(String(noToken.headers['www-authenticate']), /Keystone uri=/);
    const versions = await alice.get('/');
    assert.equal(versions.status, 300);
    assert.equal(versions.body.versions[0].status, 'CURRENT');
    assert.equal((await alice.get('/v2/schemas/image')).body.name, 'image');
  });
});

describe('image quotas and import', () => {
  let cloud: TestCloud;
  let alice: Api;

  before(async () => {
    cloud = await startTestCloud({
      NUBES_IMAGE_STORAGE_QUOTA: String(4 * 1024 * 1024),
      NUBES_IMAGE_IMPORT_FORMAT: 'qcow2',
    });
    alice = (await projectUser(await adminApi(cloud.app), 'alice')).api.on('/image');
  });
  after(() => cloud.close());

  it('refuses data beyond the project storage quota and keeps the image uploadable', async () => {
    const img = (
      await alice.post('/v2/images', { name: 'big', disk_format: 'raw', container_format: 'bare' })
    ).body;
    const r = await alice.req('PUT', `/v2/images/${img.id}/file`, randomBytes(5 * 1024 * 1024));
    assert.equal(r.status, 413);
    assert.match(r.body.message, /quota/);
    assert.equal((await alice.get(`/v2/images/${img.id}`)).body.status, 'queued');
    assert.equal(
      (await alice.req('PUT', `/v2/images/${img.id}/file`, randomBytes(1024 * 1024))).status,
      204,
    );
    const usage = (await alice.get('/v2/info/usage')).body.usage;
    assert.deepEqual(usage.image_size_total, { limit: 4 * 1024 * 1024, usage: 1024 * 1024 });
  });

  it('imports staged raw data with glance-direct and converts it to the configured qcow2', async () => {
    assert.deepEqual((await alice.get('/v2/info/import')).body['import-methods'].value, [
      'glance-direct',
    ]);
    const img = (
      await alice.post('/v2/images', {
        name: 'imported',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body;
    const notStaged = await alice.post(`/v2/images/${img.id}/import`, {
      method: { name: 'glance-direct' },
    });
    assert.equal(notStaged.status, 409);
    const data = Buffer.alloc(512 * 1024, 7);
    const usedBefore = (await alice.get('/v2/info/usage')).body.usage.image_size_total.usage;
    assert.equal((await alice.req('PUT', `/v2/images/${img.id}/stage`, data)).status, 204);
    assert.equal((await alice.get(`/v2/images/${img.id}`)).body.status, 'uploading');
    assert.equal(
      (await alice.get('/v2/info/usage')).body.usage.image_size_total.usage,
      usedBefore + data.length,
      'staged data counts against the quota',
    );
    assert.equal(
      (await alice.post(`/v2/images/${img.id}/import`, { method: { name: 'web-download' } }))
        .status,
      400,
    );
    assert.equal(
      (await alice.post(`/v2/images/${img.id}/import`, { method: { name: 'glance-direct' } }))
        .status,
      202,
    );
    await cloud.image.data.drain();
    const done = (await alice.get(`/v2/images/${img.id}`)).body;
    assert.equal(done.status, 'active');
    assert.equal(done.disk_format, 'qcow2');
    assert.equal(done.virtual_size, data.length);
    const task = (await alice.get(`/v2/tasks/${done.os_glance_import_task}`)).body;
    assert.equal(task.status, 'success');
    const file = (await alice.get(`/v2/images/${img.id}/file`)).raw;
    assert.equal(file.subarray(0, 4).toString('latin1'), 'QFI\xfb', 'the stored data is qcow2');
  });

  it('returns an import whose process stopped to queued, with the task saying so', async () => {
    const img = (
      await alice.post('/v2/images', {
        name: 'orphan',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body;
    assert.equal(
      (await alice.req('PUT', `/v2/images/${img.id}/stage`, Buffer.alloc(4096, 1))).status,
      204,
    );
    // As if the process running the import had died an hour ago, mid-import.
    const taskId = crypto.randomUUID();
    await cloud.database.db
      .insertInto('image_tasks')
      .values({
        id: taskId,
        type: 'api_image_import',
        status: 'processing',
        owner: img.owner,
        image_id: img.id,
        input: '{}',
        result: null,
        message: '',
        created_at: 1,
        updated_at: 1,
        expires_at: null,
      })
      .execute();
    await cloud.database.db
      .insertInto('image_properties')
      .values({ image_id: img.id, name: 'os_glance_import_task', value: taskId })
      .execute();
    await cloud.database.db
      .updateTable('images')
      .set({ status: 'importing', updated_at: Date.now() - 3600_000 })
      .where('id', '=', img.id)
      .execute();
    assert.equal(await cloud.image.transfers.sweep(), 1);
    assert.equal((await alice.get(`/v2/images/${img.id}`)).body.status, 'queued');
    const task = (await alice.get(`/v2/tasks/${taskId}`)).body;
    assert.equal(task.status, 'failure');
    assert.match(task.message, /import again/);
    assert.equal(await cloud.image.transfers.sweep(), 0, 'nothing else was stalled');
  });

  it('fails an import of unsafe staged data, back to queued with the task saying why', async () => {
    const img = (
      await alice.post('/v2/images', {
        name: 'evil',
        disk_format: 'qcow2',
        container_format: 'bare',
      })
    ).body;
    const dir = mkdtempSync(join(tmpdir(), 'nubes-image-test-'));
    try {
      const backed = join(dir, 'b.qcow2');
      await qemuImgCreate(backed, 'qcow2', 1024 * 1024, {
        backing: '/etc/hostname',
        backingFormat: 'raw',
      });
      assert.equal(
        (await alice.req('PUT', `/v2/images/${img.id}/stage`, readFileSync(backed))).status,
        204,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(
      (await alice.post(`/v2/images/${img.id}/import`, { method: { name: 'glance-direct' } }))
        .status,
      202,
    );
    await cloud.image.data.drain();
    const after = (await alice.get(`/v2/images/${img.id}`)).body;
    assert.equal(after.status, 'queued');
    const task = (await alice.get(`/v2/tasks/${after.os_glance_import_task}`)).body;
    assert.equal(task.status, 'failure');
    assert.match(task.message, /backing file/);
  });
});
