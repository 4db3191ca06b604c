// Issue 15, items 5 and 7 (image half): an import ran `qemu-img convert` unbounded (a 64 KiB vmdk
// claiming 1 PiB kept a core busy for hours, deleting the image did not stop it, a project could
// run any number at once), and qemu-img's words put host paths in what a tenant reads. Now the
// virtual size is checked first, a deleted image's conversion is killed with its partial output,
// a project runs a bounded number of imports, and no host path reaches an API fault or a task.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, projectUser, type Api } from '../support/client.ts';
import { qemuImgCreate } from '../../src/host/qemu-img.ts';

const PIB = 1024 ** 5;
const dir = mkdtempSync(join(tmpdir(), 'nubes-import-bounds-'));
let hugeVmdk: Buffer;

/** qemu-img processes this test process started (through the cloud it runs), by pid. */
function qemuImgChildren(): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && (comm === 'qemu-img' || comm === 'prlimit'))
        found.push(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** No absolute host path (the test clouds live under the temp directory). */
function assertNoHostPath(text: string, where: string): void {
  assert.doesNotMatch(text, /\/(tmp|var|home|root)\//, `${where} names a host path: ${text}`);
  assert.doesNotMatch(text, /nubes-test-|image-staging|\.tmp-/, `${where} names a host file`);
}

async function stagedImage(api: Api, name: string, data: Buffer, format = 'vmdk') {
  const img = (
    await api.post('/v2/images', { name, disk_format: format, container_format: 'bare' })
  ).body;
  assert.equal((await api.req('PUT', `/v2/images/${img.id}/stage`, data)).status, 204);
  return img as { id: string };
}

const taskOf = async (api: Api, id: string) => {
  const img = (await api.get(`/v2/images/${id}`)).body;
  return (await api.get(`/v2/tasks/${img.os_glance_import_task}`)).body;
};

before(async () => {
  const path = join(dir, 'huge.vmdk');
  await qemuImgCreate(path, 'vmdk', PIB);
  hugeVmdk = readFileSync(path);
  assert.ok(hugeVmdk.length <= 128 * 1024, 'a tiny file claiming a 1 PiB disk');
});
after(() => {
  // Before the fix a conversion outlived everything: stop what this process started, by pid.
  for (const pid of qemuImgChildren()) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('image import bounds, with the default size cap', () => {
  let cloud: TestCloud;
  let alice: Api;
  before(async () => {
    cloud = await startTestCloud({ NUBES_IMAGE_IMPORT_FORMAT: 'qcow2' });
    alice = (await projectUser(await adminApi(cloud.app), 'alice')).api.on('/image');
  });
  after(async () => {
    for (const pid of qemuImgChildren()) process.kill(pid, 'SIGKILL');
    await cloud.close();
  });

  it('fails an import of a tiny vmdk claiming 1 PiB at once, saying why, naming no host path', async () => {
    const img = await stagedImage(alice, 'huge', hugeVmdk);
    const started = Date.now();
    assert.equal(
      (await alice.post(`/v2/images/${img.id}/import`, { method: { name: 'glance-direct' } }))
        .status,
      202,
    );
    const task = await until('the import task ends', 15_000, async () => {
      const t = await taskOf(alice, img.id);
      return t.status === 'processing' ? undefined : t;
    });
    assert.ok(Date.now() - started < 10_000, 'it fails fast');
    assert.equal(task.status, 'failure');
    assert.match(task.message, /virtual size, 1125899906842624 bytes/);
    assert.match(task.message, /size cap/);
    assertNoHostPath(task.message, 'the task message');
    assert.equal((await alice.get(`/v2/images/${img.id}`)).body.status, 'queued');
    assert.deepEqual(qemuImgChildren(), [], 'no conversion runs');
  });

  it('refuses unreadable data without naming the file it was kept in', async () => {
    // vmdk magic, then nothing qemu-img can make sense of.
    const junk = Buffer.alloc(64 * 1024);
    junk.write('KDMV', 0, 'latin1');
    junk.writeUInt32LE(1, 4);
    const img = (
      await alice.post('/v2/images', {
        name: 'junk',
        disk_format: 'vmdk',
        container_format: 'bare',
      })
    ).body;
    const up = await alice.req('PUT', `/v2/images/${img.id}/file`, junk);
    assert.equal(up.status, 415);
    assert.match(up.body.message, /qemu-img cannot read it as vmdk/);
    assertNoHostPath(up.body.message, 'the upload fault');

    const staged = await stagedImage(alice, 'junk-import', junk);
    await alice.post(`/v2/images/${staged.id}/import`, { method: { name: 'glance-direct' } });
    await cloud.image.data.drain();
    const task = await taskOf(alice, staged.id);
    assert.equal(task.status, 'failure');
    assert.match(task.message, /qemu-img cannot read it as vmdk/);
    assertNoHostPath(task.message, 'the task message');
  });
});

describe('image import bounds, with a size cap that lets the conversion start', () => {
  let cloud: TestCloud;
  let bob: Api;
  before(async () => {
    cloud = await startTestCloud({
      NUBES_IMAGE_IMPORT_FORMAT: 'qcow2',
      NUBES_IMAGE_SIZE_CAP: String(2 * PIB),
      NUBES_IMAGE_IMPORTS_PER_PROJECT: '1',
      NUBES_IMAGE_STORE_DIR: join(dir, 'store'),
    });
    bob = (await projectUser(await adminApi(cloud.app), 'bob')).api.on('/image');
  });
  after(async () => {
    for (const pid of qemuImgChildren()) process.kill(pid, 'SIGKILL');
    await cloud.close();
  });

  it('runs one import per project at once, and deleting the image kills its conversion', async () => {
    const first = await stagedImage(bob, 'slow', hugeVmdk);
    const second = await stagedImage(bob, 'waiting', hugeVmdk);
    assert.equal(
      (await bob.post(`/v2/images/${first.id}/import`, { method: { name: 'glance-direct' } }))
        .status,
      202,
    );
    const pids = await until('qemu-img converts', 15_000, async () => {
      const p = qemuImgChildren();
      return p.length > 0 ? p : undefined;
    });
    const refused = await bob.post(`/v2/images/${second.id}/import`, {
      method: { name: 'glance-direct' },
    });
    assert.equal(refused.status, 413, 'the project already runs its one import');
    assert.match(refused.body.message, /already runs 1 imports/);
    assert.equal((await bob.get(`/v2/images/${second.id}`)).body.status, 'uploading');

    assert.equal((await bob.del(`/v2/images/${first.id}`)).status, 204);
    await until('the conversion is killed', 5000, async () =>
      qemuImgChildren().length === 0 ? true : undefined,
    );
    for (const pid of pids)
      assert.throws(() => process.kill(pid, 0), 'the qemu-img process is gone');
    await cloud.image.data.drain();
    const store = readdirSync(join(dir, 'store')).filter((n) => n.startsWith('.tmp-'));
    assert.deepEqual(store, [], 'the partial output is removed');

    // Its slot is free again: the second import starts (and is deleted in turn).
    assert.equal(
      (await bob.post(`/v2/images/${second.id}/import`, { method: { name: 'glance-direct' } }))
        .status,
      202,
    );
    await until('qemu-img converts', 15_000, async () =>
      qemuImgChildren().length > 0 ? true : undefined,
    );
    assert.equal((await bob.del(`/v2/images/${second.id}`)).status, 204);
    await until('the conversion is killed', 5000, async () =>
      qemuImgChildren().length === 0 ? true : undefined,
    );
  });
});
