// Issue 15, item 10: an upload cut off by a crash (kill -9 of `nubes up` mid-body) stayed 'saving'
// until a restart at least 15 minutes later, its .tmp file stayed on disk and its bytes counted
// against the quota. Now the api process that runs next (any replica) recovers it within the
// configured stall time: the image is 'queued' again, the quota is given back, the .tmp is gone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api } from '../support/client.ts';

const PASSWORD = 'sweep-admin-pw';
const ENV = {
  NUBES_ADMIN_PASSWORD: PASSWORD,
  NUBES_IMAGE_STORAGE_QUOTA: String(64 * 1024 * 1024),
  NUBES_IMAGE_TRANSFER_SWEEP_SECONDS: '1',
  NUBES_IMAGE_TRANSFER_STALLED_SECONDS: '4',
};
const ARGS = ['--virt-driver', 'fake'];

/** The admin's token (the password this file starts its clouds with). */
const login = (url: string): Promise<string> => adminToken(url, PASSWORD);

async function image(url: string, token: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${url}/image${path}`, {
    method,
    headers: {
      'x-auth-token': token,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

const tmpFiles = (dataDir: string) =>
  readdirSync(join(dataDir, 'images')).filter((n) => n.startsWith('.tmp-'));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sends half of a `total`-byte upload to `url` and holds the connection open. */
function halfUpload(url: string, token: string, id: string, total: number) {
  const put = request({
    host: '127.0.0.1',
    port: Number(new URL(url).port),
    method: 'PUT',
    path: `/image/v2/images/${id}/file`,
    headers: {
      'x-auth-token': token,
      'content-type': 'application/octet-stream',
      'content-length': total,
    },
  });
  put.on('error', () => undefined);
  put.write(Buffer.alloc(total / 2, 1));
  return put;
}

describe('an upload cut off by a crash of its api process', () => {
  let first: NubesProcess | undefined;
  let next: NubesProcess | undefined;
  before(async () => {
    first = await startNubes({ args: ARGS, env: ENV });
  });
  after(async () => {
    await next?.stop();
    if (first?.child.exitCode === null) first.child.kill('SIGKILL');
    if (first) removeDir(first.dataDir);
  });

  it('is recovered by the next api process within the stall time: queued, quota and .tmp freed', async () => {
    const token = await login(first!.url);
    const made = await image(first!.url, token, 'POST', '/v2/images', {
      name: 'cut-off',
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(made.status, 201);
    const id = made.body.id as string;

    // Half of a 16 MiB body, then nothing: the client waits, the server holds the upload open.
    const total = 16 * 1024 * 1024;
    const put = halfUpload(first!.url, token, id, total);
    await until('the upload is saving, counted, and writing its .tmp', 15_000, async () => {
      const img = await image(first!.url, token, 'GET', `/v2/images/${id}`);
      const usage = await image(first!.url, token, 'GET', '/v2/info/usage');
      return img.body.status === 'saving' &&
        usage.body.usage.image_size_total.usage === total &&
        tmpFiles(first!.dataDir).length === 1
        ? true
        : undefined;
    });

    first!.child.kill('SIGKILL');
    await new Promise((r) => first!.child.once('exit', r));
    put.destroy();

    next = await startNubes({ args: ARGS, env: ENV, dataDir: first!.dataDir });
    const token2 = await login(next.url);
    const started = Date.now();
    await until('the stalled upload is recovered', 15_000, async () => {
      const img = await image(next!.url, token2, 'GET', `/v2/images/${id}`);
      return img.body.status === 'queued' ? true : undefined;
    });
    // Stalled after 4 s without a beat, swept every second: well within 15 s of the new start.
    assert.ok(Date.now() - started < 15_000);
    const usage = await image(next.url, token2, 'GET', '/v2/info/usage');
    assert.equal(usage.body.usage.image_size_total.usage, 0, 'the quota is given back');
    // Its last bytes may have reached the file after its last beat: gone by the next sweep at most.
    await until('the partial file is removed', 3000, async () =>
      tmpFiles(next!.dataDir).length === 0 ? true : undefined,
    );

    // And the image takes an upload again, as after any failed one.
    const again = await fetch(`${next.url}/image/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': token2, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(4096, 2),
    });
    assert.equal(again.status, 204);
    assert.equal((await image(next.url, token2, 'GET', `/v2/images/${id}`)).body.status, 'active');
  });
});

describe('an upload whose api process dies, beside another api process that keeps running', () => {
  let owner: NubesProcess | undefined;
  let replica: TestCloud | undefined;
  before(async () => {
    owner = await startNubes({ args: ARGS, env: ENV });
    // A second api process on the same database and image store: this test's own.
    replica = await startTestCloud({
      ...ENV,
      NUBES_DATABASE: `sqlite:${join(owner.dataDir, 'nubes.db')}`,
      NUBES_IMAGE_STORE_DIR: join(owner.dataDir, 'images'),
      NUBES_IMAGE_STAGING_DIR: join(owner.dataDir, 'image-staging'),
    });
  });
  after(async () => {
    await replica?.close();
    if (owner?.child.exitCode === null) owner.child.kill('SIGKILL');
    if (owner) removeDir(owner.dataDir);
  });

  it('is left alone while its owner lives, and recovered by the running replica once it dies', async () => {
    const token = await login(owner!.url);
    const id = (
      await image(owner!.url, token, 'POST', '/v2/images', {
        name: 'slow-client',
        disk_format: 'raw',
        container_format: 'bare',
      })
    ).body.id as string;
    const total = 16 * 1024 * 1024;
    const put = halfUpload(owner!.url, token, id, total);
    const onReplica = new Api(replica!.app, token, '/image');
    await until('the upload is saving', 15_000, async () =>
      (await onReplica.get(`/v2/images/${id}`)).body.status === 'saving' ? true : undefined,
    );
    // No byte moves for twice the stall time, but its process beats: the replica's sweeps leave it.
    await new Promise((r) => setTimeout(r, 8000));
    assert.equal((await onReplica.get(`/v2/images/${id}`)).body.status, 'saving');
    assert.equal(tmpFiles(owner!.dataDir).length, 1, 'its partial file stays');

    owner!.child.kill('SIGKILL');
    await new Promise((r) => owner!.child.once('exit', r));
    put.destroy();
    const killed = Date.now();
    await until('the running replica recovers it', 10_000, async () =>
      (await onReplica.get(`/v2/images/${id}`)).body.status === 'queued' ? true : undefined,
    );
    assert.ok(Date.now() - killed < 10_000, 'within the stall time and a sweep or two');
    const usage = (await onReplica.get('/v2/info/usage')).body.usage.image_size_total.usage;
    assert.equal(usage, 0, 'the quota is given back');
    await until('the partial file is removed', 3000, async () =>
      tmpFiles(owner!.dataDir).length === 0 ? true : undefined,
    );
  });
});
