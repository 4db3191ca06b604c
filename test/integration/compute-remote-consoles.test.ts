// Remote consoles through the API down to a host's console proxy: both request shapes and their
// microversions, Nova's 400/403/409, a host without VNC, and a token that opens the guest's VNC
// server (a test socket speaking the RFB banner) at each connection until its server is deleted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import { startHostAgent, type HostAgent } from '../../src/compute/agent/host-agent.ts';
import { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import {
  busTokenCheck,
  createConsoleProxy,
  type ConsoleProxy,
} from '../../src/compute/agent/console/proxy.ts';
import { inProcessImageTransfer } from '../../src/cli/image-transfer.ts';
import { silentLogger } from '../../src/platform/log.ts';

/** Opens the websocket; resolves with the first bytes the guest sends, or rejects with the HTTP status. */
function firstBytes(url: string, origin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], origin ? { origin } : {});
    ws.once('message', (data) => {
      resolve(Buffer.from(data as Buffer).toString('latin1'));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

describe('remote consoles', () => {
  let c: ComputeCloud;
  let dir: string;
  let vnc: NetServer;
  let http: Server;
  let proxy: ConsoleProxy;
  let agent: HostAgent;
  let port: number;
  let vncServer: string;
  let plainServer: string;

  before(async () => {
    c = await startComputeCloud({ 'node-plain': {} });
    // Alice's server first, while the host without VNC is the only one.
    plainServer = (await c.boot(c.alice, { name: 'blind' })).body.server.id;
    await waitFor(c.alice, plainServer, ['ACTIVE']);
    dir = mkdtempSync(join(tmpdir(), 'nubes-console-'));
    // The guest's VNC server: says the RFB banner, as QEMU's does.
    vnc = createNetServer((s) => {
      s.on('error', () => undefined);
      s.write('RFB 003.008\n');
    });
    await new Promise<void>((r) => vnc.listen(join(dir, 'vnc.sock'), r));
    const driver = new FakeDriver({ vncSocket: () => join(dir, 'vnc.sock') });
    proxy = createConsoleProxy({
      log: silentLogger(),
      checkToken: busTokenCheck(c.bus, 'node-vnc'),
      socketOf: (id) => driver.consoleSocket(id),
      filesDir: null,
    });
    http = createHttpServer((req, res) => {
      if (!proxy.handleRequest(req, res)) res.writeHead(404).end();
    });
    http.on('upgrade', (req, socket, head) => {
      if (!proxy.handleUpgrade(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as { port: number }).port;
    agent = await startHostAgent({
      bus: c.bus,
      host: 'node-vnc',
      log: silentLogger(),
      version: 'test',
      driver,
      heartbeatMs: 1000,
      images: inProcessImageTransfer(c.cloud.image),
      console: { url: `http://127.0.0.1:${port}/console`, note: null },
    });
    await agent.registered;
    const a = await c.admin.post('/servers', {
      server: {
        name: 'screen',
        imageRef: c.imageId,
        flavorRef: '1',
        availability_zone: 'nova:node-vnc',
      },
    });
    assert.equal(a.status, 202, JSON.stringify(a.body));
    vncServer = a.body.server.id;
    await waitFor(c.admin, vncServer, ['ACTIVE']);
  });
  after(async () => {
    await agent.stop();
    proxy.close();
    http.close();
    vnc.close();
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tokenOf = (url: string) => {
    const path = new URL(url).searchParams.get('path')!;
    assert.match(path, /^console\/websockify\?token=[A-Za-z0-9_-]{43}$/);
    return path.split('token=')[1]!;
  };

  it('gives a noVNC URL through os-getVNCConsole (2.1) and remote-consoles (2.6), each token opening the console again and again', async () => {
    const old = await c.admin.post(`/servers/${vncServer}/action`, {
      'os-getVNCConsole': { type: 'novnc' },
    });
    assert.equal(old.status, 200, JSON.stringify(old.body));
    assert.deepEqual(Object.keys(old.body.console).sort(), ['type', 'url']);
    assert.equal(old.body.console.type, 'novnc');
    assert.ok(
      old.body.console.url.startsWith(
        `http://127.0.0.1:${port}/console/vnc_lite.html?path=console%2Fwebsockify%3Ftoken%3D`,
      ),
      old.body.console.url,
    );
    const token = tokenOf(old.body.console.url);
    const ws = `ws://127.0.0.1:${port}/console/websockify?token=${token}`;
    assert.match(await firstBytes(ws), /^RFB 003\.008\n$/);
    assert.match(await firstBytes(ws), /^RFB 003\.008\n$/, 'a page reload reconnects');

    // A page of another site may not use a token; the refusal does not spoil it.
    const fresh = tokenOf(
      (
        await c.admin.req('POST', `/servers/${vncServer}/action`, {
          'os-getVNCConsole': { type: 'novnc' },
        })
      ).body.console.url,
    );
    const freshWs = `ws://127.0.0.1:${port}/console/websockify?token=${fresh}`;
    await assert.rejects(firstBytes(freshWs, 'http://evil.example'), /HTTP 403/);
    assert.match(await firstBytes(freshWs, `http://127.0.0.1:${port}`), /^RFB 003/);

    const rc = await c.admin.req(
      'POST',
      `/servers/${vncServer}/remote-consoles`,
      { remote_console: { protocol: 'vnc', type: 'novnc' } },
      mv('2.6'),
    );
    assert.equal(rc.status, 200, JSON.stringify(rc.body));
    assert.deepEqual(Object.keys(rc.body.remote_console).sort(), ['protocol', 'type', 'url']);
    assert.equal(rc.body.remote_console.protocol, 'vnc');
    const second = tokenOf(rc.body.remote_console.url);
    assert.notEqual(second, token);
    assert.match(
      await firstBytes(`ws://127.0.0.1:${port}/console/websockify?token=${second}`),
      /^RFB 003/,
    );
    await assert.rejects(
      firstBytes(`ws://127.0.0.1:${port}/console/websockify?token=nonsense`),
      /HTTP 403/,
    );
    await assert.rejects(firstBytes(`ws://127.0.0.1:${port}/console/websockify`), /HTTP 400/);
  });

  it('keeps each request shape to its microversions, as Nova', async () => {
    const early = await c.admin.req(
      'POST',
      `/servers/${vncServer}/remote-consoles`,
      { remote_console: { protocol: 'vnc', type: 'novnc' } },
      mv('2.5'),
    );
    assert.equal(early.status, 404);
    assert.ok(early.body.itemNotFound, JSON.stringify(early.body));
    const late = await c.admin.req(
      'POST',
      `/servers/${vncServer}/action`,
      { 'os-getVNCConsole': { type: 'novnc' } },
      mv('2.6'),
    );
    assert.equal(late.status, 404);
  });

  it("answers 400 in Nova's format for other types and protocols and bad bodies", async () => {
    for (const [body, headers] of [
      [{ 'os-getVNCConsole': { type: 'xvpvnc' } }, {}],
      [{ 'os-getVNCConsole': { type: 'spice-html5' } }, {}],
      [{ 'os-getVNCConsole': {} }, {}],
      [{ 'os-getVNCConsole': null }, {}],
    ] as const) {
      const r = await c.admin.req('POST', `/servers/${vncServer}/action`, body, headers);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.badRequest.code, 400);
    }
    const spice = await c.admin.req(
      'POST',
      `/servers/${vncServer}/remote-consoles`,
      { remote_console: { protocol: 'spice', type: 'spice-html5' } },
      mv('2.6'),
    );
    assert.equal(spice.status, 400);
    assert.match(spice.body.badRequest.message, /only protocol vnc with type novnc/);
    for (const body of [
      {},
      { remote_console: { protocol: 'vnc' } },
      { remote_console: { protocol: 7, type: 'novnc' } },
      { remote_console: 'vnc' },
    ]) {
      assert.equal(
        (await c.admin.req('POST', `/servers/${vncServer}/remote-consoles`, body, mv('2.6')))
          .status,
        400,
        JSON.stringify(body),
      );
    }
  });

  it("refuses another project's server and an unknown one (404), a host without VNC (400) and a stopped server (409)", async () => {
    const other = await c.bob.post(`/servers/${vncServer}/action`, {
      'os-getVNCConsole': { type: 'novnc' },
    });
    assert.equal(other.status, 404, "another project's server is not found, as any other");
    assert.ok(other.body.itemNotFound, JSON.stringify(other.body));
    assert.equal(
      (
        await c.alice.post(`/servers/${crypto.randomUUID()}/action`, {
          'os-getVNCConsole': { type: 'novnc' },
        })
      ).status,
      404,
    );
    const blind = await c.alice.post(`/servers/${plainServer}/action`, {
      'os-getVNCConsole': { type: 'novnc' },
    });
    assert.equal(blind.status, 400);
    assert.match(
      blind.body.badRequest.message,
      /Unavailable console type novnc on host node-plain/,
    );
    assert.equal(
      (await c.alice.post(`/servers/${plainServer}/action`, { 'os-stop': null })).status,
      202,
    );
    await waitFor(c.alice, plainServer, ['SHUTOFF']);
    const off = await c.alice.req(
      'POST',
      `/servers/${plainServer}/remote-consoles`,
      { remote_console: { protocol: 'vnc', type: 'novnc' } },
      mv('2.6'),
    );
    assert.equal(off.status, 409);
    assert.match(off.body.conflictingRequest.message, /is not ready/);
  });

  it("a deleted server's console tokens go with it, used or not", async () => {
    const b = await c.boot(c.admin, { name: 'vnc-gone', availability_zone: 'nova:node-vnc' });
    assert.equal(b.status, 202, JSON.stringify(b.body));
    const id = b.body.server.id as string;
    await waitFor(c.admin, id, ['ACTIVE']);
    const r = await c.admin.post(`/servers/${id}/action`, {
      'os-getVNCConsole': { type: 'novnc' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await c.admin.req('DELETE', `/servers/${id}`)).status, 204);
    for (let n = 0; n < 200 && (await c.admin.get(`/servers/${id}`)).status !== 404; n++)
      await new Promise((res) => setTimeout(res, 25));
    await assert.rejects(
      firstBytes(`ws://127.0.0.1:${port}/console/websockify?token=${tokenOf(r.body.console.url)}`),
      /HTTP 403/,
    );
  });
});
