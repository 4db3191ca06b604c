// Issue 15, item 11: the guests of a fake-driver host lived only in the process, so restarting
// `nubes up` turned every server to ERROR ("not on this host"). The fake driver now keeps its
// guests in the data dir (owner-only, replaced atomically), as a real hypervisor keeps its own:
// after a restart the servers are still ACTIVE and still answer actions.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminToken, removeDir, startNubes, type NubesProcess } from '../support/nubes-process.ts';

const PASSWORD = 'issue15-restart-password';
const ENV = { NUBES_VIRT_DRIVER: 'fake', NUBES_ADMIN_PASSWORD: PASSWORD };

/** The admin's token (the password this file starts its clouds with). */
const login = (url: string): Promise<string> => adminToken(url, PASSWORD);

async function call(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: {
      'x-auth-token': token,
      ...(body !== undefined ? { 'content-type': contentType } : {}),
    },
    ...(body !== undefined ? { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

/** Polls the server until its status is one of `want`; returns it. */
async function waitStatus(url: string, token: string, id: string, want: string[]): Promise<any> {
  for (let n = 0; ; n++) {
    const s = (await call(url, token, 'GET', `/compute/v2.1/servers/${id}`)).body.server;
    if (want.includes(s.status)) return s;
    if (n > 200) throw new Error(`server ${id} is ${s.status}, not ${want.join('/')}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

describe('issue 15: a fake-driver cloud keeps its servers across a restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nubes-restart-'));
  let nubes: NubesProcess | undefined;
  after(async () => {
    await nubes?.stop();
    removeDir(dataDir);
  });

  it('restarted, its servers are still ACTIVE and answer actions', async () => {
    nubes = await startNubes({ dataDir, env: ENV });
    let token = await login(nubes.url);
    const image = await call(nubes.url, token, 'POST', '/image/v2/images', {
      name: 'disk',
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(image.status, 201);
    const put = await call(
      nubes.url,
      token,
      'PUT',
      `/image/v2/images/${image.body.id}/file`,
      Buffer.alloc(64 * 1024),
      'application/octet-stream',
    );
    assert.equal(put.status, 204);
    const ids: string[] = [];
    for (const name of ['keeps-1', 'keeps-2']) {
      const made = await call(nubes.url, token, 'POST', '/compute/v2.1/servers', {
        server: { name, imageRef: image.body.id, flavorRef: '1' },
      });
      assert.equal(made.status, 202, JSON.stringify(made.body));
      ids.push(made.body.server.id);
    }
    for (const id of ids) await waitStatus(nubes.url, token, id, ['ACTIVE']);
    assert.equal(
      (
        await call(nubes.url, token, 'POST', `/compute/v2.1/servers/${ids[1]}/action`, {
          'os-stop': null,
        })
      ).status,
      202,
    );
    await waitStatus(nubes.url, token, ids[1]!, ['SHUTOFF']);
    assert.equal(await nubes.stop(), 0);

    nubes = await startNubes({ dataDir, env: ENV });
    token = await login(nubes.url);
    // The host reconciled at its start, before the API answered: what it found is settled.
    await new Promise((ok) => setTimeout(ok, 500));
    const first = (await call(nubes.url, token, 'GET', `/compute/v2.1/servers/${ids[0]}`)).body
      .server;
    assert.equal(first.status, 'ACTIVE', JSON.stringify(first.fault ?? first));
    assert.equal(first['OS-EXT-STS:power_state'], 1);
    const second = (await call(nubes.url, token, 'GET', `/compute/v2.1/servers/${ids[1]}`)).body
      .server;
    assert.equal(second.status, 'SHUTOFF', JSON.stringify(second.fault ?? second));
    // The guests are there for the driver: actions still work on them.
    assert.equal(
      (
        await call(nubes.url, token, 'POST', `/compute/v2.1/servers/${ids[0]}/action`, {
          'os-stop': null,
        })
      ).status,
      202,
    );
    await waitStatus(nubes.url, token, ids[0]!, ['SHUTOFF']);
    assert.equal(
      (
        await call(nubes.url, token, 'POST', `/compute/v2.1/servers/${ids[1]}/action`, {
          'os-start': null,
        })
      ).status,
      202,
    );
    await waitStatus(nubes.url, token, ids[1]!, ['ACTIVE']);

    // Where the guests are kept: a directory per simulated host, an owner-only file per guest.
    const hosts = readdirSync(join(dataDir, 'compute', 'fake'));
    assert.equal(hosts.length, 1, hosts.join(' '));
    const dir = join(dataDir, 'compute', 'fake', hosts[0]!);
    assert.deepEqual(readdirSync(dir).sort(), ids.map((id) => `${id}.json`).sort());
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  });
});
