// Issue 15, item 13: reloading a console page said "Something went wrong, connection is closed",
// because a console token opened one connection only. As Nova's, a token now reconnects for its
// lifetime (10 minutes), bound to its instance: it stops at its expiry and with the instance.
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import { startHostAgent, type HostAgent } from '../../src/compute/agent/host-agent.ts';
import { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import {
  busTokenCheck,
  createConsoleProxy,
  type ConsoleProxy,
} from '../../src/compute/agent/console/proxy.ts';
import { inProcessImageTransfer } from '../../src/cli/image-transfer.ts';
import { silentLogger } from '../../src/platform/log.ts';

/** Opens the websocket as noVNC does; resolves with the guest's first bytes, or rejects with the HTTP status. */
function firstBytes(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']);
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

describe('issue 15: a console token reconnects until it expires or its server goes', () => {
  let c: ComputeCloud;
  let dir: string;
  let vnc: NetServer;
  let http: Server;
  let proxy: ConsoleProxy;
  let agent: HostAgent;
  let port: number;

  before(async () => {
    c = await startComputeCloud({});
    dir = mkdtempSync(join(tmpdir(), 'nubes-console-'));
    // The guest's VNC server says the RFB banner, as QEMU's does.
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
  });
  after(async () => {
    mock.timers.reset();
    await agent.stop();
    proxy.close();
    http.close();
    vnc.close();
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A new console URL of the server, as its websocket URL. */
  const consoleSocket = async (server: string): Promise<string> => {
    const r = await c.alice.post(`/servers/${server}/action`, {
      'os-getVNCConsole': { type: 'novnc' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const path = new URL(r.body.console.url).searchParams.get('path')!;
    return `ws://127.0.0.1:${port}/${path}`;
  };

  it('one token opens the console twice, one connection after the other', async () => {
    const id = (await c.boot(c.alice, { name: 'screen' })).body.server.id as string;
    await waitFor(c.alice, id, ['ACTIVE']);
    const ws = await consoleSocket(id);
    assert.match(await firstBytes(ws), /^RFB 003\.008\n$/);
    assert.match(await firstBytes(ws), /^RFB 003\.008\n$/, 'the page reloaded reconnects');
    assert.match(await firstBytes(ws), /^RFB 003\.008\n$/);
  });

  it('stops working once the token expires (10 minutes, as Nova)', async () => {
    const id = (await c.boot(c.alice, { name: 'clock' })).body.server.id as string;
    await waitFor(c.alice, id, ['ACTIVE']);
    const ws = await consoleSocket(id);
    assert.match(await firstBytes(ws), /^RFB 003/);
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      mock.timers.setTime(Date.now() + 9 * 60_000);
      assert.match(await firstBytes(ws), /^RFB 003/, 'still valid after 9 minutes');
      mock.timers.setTime(Date.now() + 61_000);
      await assert.rejects(firstBytes(ws), /HTTP 403/);
    } finally {
      mock.timers.reset();
    }
    await assert.rejects(firstBytes(ws), /HTTP 403/, 'an expired token is gone for good');
  });

  it('stops working once its server is deleted', async () => {
    const id = (await c.boot(c.alice, { name: 'gone' })).body.server.id as string;
    await waitFor(c.alice, id, ['ACTIVE']);
    const ws = await consoleSocket(id);
    assert.match(await firstBytes(ws), /^RFB 003/);
    assert.equal((await c.alice.del(`/servers/${id}`)).status, 204);
    await waitFor(c.alice, id, ['DELETED']);
    await assert.rejects(firstBytes(ws), /HTTP 403/);
  });
});
