// The VNC console end to end: `nubes up` (qemu driver) boots nubes-tiny through Debian's `openstack`
// CLI, `openstack console url show --novnc` gives a URL, and through it (a) a websocket reaches the
// guest's VNC server (its RFB banner), (b) the same token is refused the second time, and (c) noVNC
// in Debian's Chromium, headless, connects to the guest's screen. Then scaled out: a `nubes agent`
// serves the console on its own `--console-listen`, and the URL the api gives points there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { stringify } from 'yaml';
import { freePort, startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { freshBackends } from '../support/databases.ts';
import { buildTinyImage } from '../../src/host/tiny-image/build-tiny-image.ts';
import { loadConfig } from '../../src/cli/config.ts';
import { cloudEntry, haveOpenstackCli, osOk } from '../support/openstack-cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = !haveOpenstackCli()
  ? 'python3-openstackclient is not installed (scripts/test.sh installs it)'
  : !existsSync('/usr/bin/qemu-system-x86_64')
    ? 'qemu-system-x86_64 is not installed (bin/nubes installs qemu-system-x86)'
    : !existsSync('/usr/share/novnc/vnc_lite.html')
      ? 'noVNC is not installed (apt install novnc; bin/nubes installs it)'
      : false;

/** The websocket URL noVNC's vnc_lite.html builds from the console URL (host, port, then `path`). */
function websocketOf(consoleUrl: string): string {
  const u = new URL(consoleUrl);
  return `ws://${u.host}/${u.searchParams.get('path')!}`;
}

/** Connects and resolves with the first bytes the VNC server sends, or rejects with the HTTP status. */
function banner(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no banner in 20 s'));
    }, 20_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(Buffer.from(data as Buffer).toString('latin1'));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe('the VNC console through the openstack CLI (nubes up, qemu driver)', { skip }, () => {
  let nubes: NubesProcess;
  let admin: Record<string, string>;

  before(async () => {
    nubes = await startNubes({ env: { NUBES_TINY_IMAGE: 'on' }, readyWhen: /is up/ });
    admin = { OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'clouds.yaml'), OS_CLOUD: 'nubes' };
    const s = await osOk(
      [
        'server',
        'create',
        '--image',
        'nubes-tiny',
        '--flavor',
        'm1.nano',
        '--wait',
        'screen',
        '-f',
        'json',
      ],
      admin,
    );
    assert.equal(s.status, 'ACTIVE');
  });
  after(async () => {
    if (!nubes) return;
    // Guests outlive the cloud by design: the test removes its own.
    await osOk(['server', 'delete', '--wait', 'screen'], admin).catch(() => undefined);
    await nubes.stop();
    removeDir(nubes.dataDir);
  });

  const consoleUrl = async (): Promise<string> => {
    const c = await osOk(['console', 'url', 'show', '--novnc', 'screen', '-f', 'json'], admin);
    assert.equal(c.type, 'novnc');
    assert.ok(
      c.url.startsWith(`${nubes.url}/console/vnc_lite.html?path=console%2Fwebsockify%3Ftoken%3D`),
      c.url,
    );
    return c.url;
  };

  it("opens the guest's VNC server with the URL's token once, and refuses it the second time", async () => {
    const url = websocketOf(await consoleUrl());
    assert.match(await banner(url), /^RFB 003\.00\d\n$/);
    await assert.rejects(banner(url), /HTTP 403/);
  });

  it("serves noVNC's page and scripts, and no file outside them", async () => {
    const page = await fetch(`${nubes.url}/console/vnc_lite.html`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /noVNC/);
    const rfb = await fetch(`${nubes.url}/console/core/rfb.js`);
    assert.equal(rfb.status, 200);
    assert.match(rfb.headers.get('content-type')!, /javascript/);
    assert.equal((await fetch(`${nubes.url}/console/..%2f..%2f..%2fetc%2fpasswd`)).status, 404);
    assert.equal(
      (await fetch(`${nubes.url}/console/core/..%2f..%2f..%2fetc%2fpasswd`)).status,
      404,
    );
  });

  it("shows the guest's screen in noVNC in a browser (Chromium, headless)", async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} is missing (apt install chromium; bin/nubes installs it)`);
      return;
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(await consoleUrl());
      // vnc_lite.html says "Connected to <desktop name>" once the RFB handshake is done. (Page code is
      // given as text: this program is compiled without the DOM's types.)
      await page.waitForFunction(
        "/^Connected/.test(document.getElementById('status')?.textContent ?? '')",
        undefined,
        { timeout: 60_000 },
      );
      const status = (await page.evaluate(
        "document.getElementById('status').textContent",
      )) as string;
      assert.match(status, /^Connected to QEMU/);
      // And the guest's screen is drawn: a canvas of non-zero size with more than one colour in it.
      await page.waitForFunction(
        `(() => {
        const c = document.querySelector('#screen canvas');
        if (!c || c.width === 0 || c.height === 0) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 4; i < d.length; i += 4) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) return true;
        return false;
      })()`,
        undefined,
        { timeout: 60_000 },
      );
    } finally {
      await browser.close();
    }
  });
});

const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];

describe(
  'the VNC console of a separate agent (nubes api + nubes agent --console-listen)',
  {
    skip:
      skip ||
      (!pgUrl || !amqpUrl
        ? 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)'
        : false),
  },
  () => {
    let backends: Awaited<ReturnType<typeof freshBackends>>;
    let api: NubesProcess;
    let agent: NubesProcess;
    let env: Record<string, string>;
    let consolePort: number;
    const host = `console-${randomUUID().slice(0, 6)}`;

    before(async () => {
      backends = await freshBackends(pgUrl!, amqpUrl!);
      api = await startNubes({
        command: ['api'],
        args: ['--database', backends.db.url, '--bus', backends.bus.url],
        env: { NUBES_ADMIN_PASSWORD: 'console-test-pw' },
      });
      consolePort = await freePort();
      agent = await startNubes({
        command: ['agent'],
        args: [
          '--host',
          host,
          '--bus',
          backends.bus.url,
          '--virt-driver',
          'qemu',
          '--console-listen',
          `127.0.0.1:${consolePort}`,
        ],
        readyWhen: /host agent serving/,
      });
      env = { OS_CLIENT_CONFIG_FILE: join(api.dataDir, 'admin-clouds.yaml'), OS_CLOUD: 'nubes' };
      writeFileSync(
        env.OS_CLIENT_CONFIG_FILE!,
        stringify({ clouds: { nubes: cloudEntry(api.url, 'admin', 'console-test-pw', 'admin') } }),
      );
      // The same build cache `nubes up` uses (a cached build costs about 0.1 s).
      const tiny = await buildTinyImage({
        cacheDir: join(loadConfig({ flags: {}, env: process.env }).cacheDir, 'tiny-image'),
      });
      await osOk(
        [
          'image',
          'create',
          '--disk-format',
          'qcow2',
          '--container-format',
          'bare',
          '--file',
          tiny.disk,
          'tiny',
        ],
        env,
      );
      const s = await osOk(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--wait',
          'far-screen',
          '-f',
          'json',
        ],
        env,
      );
      assert.equal(s.status, 'ACTIVE');
    });
    after(async () => {
      await osOk(['server', 'delete', '--wait', 'far-screen'], env).catch(() => undefined);
      await agent?.stop();
      await api?.stop();
      await backends?.drop();
      for (const p of [api, agent]) if (p) removeDir(p.dataDir);
    });

    it("gives a URL on the agent's console listener; its token opens the guest's VNC server once", async () => {
      const c = await osOk(['console', 'url', 'show', '--novnc', 'far-screen', '-f', 'json'], env);
      assert.ok(
        c.url.startsWith(
          `http://127.0.0.1:${consolePort}/console/vnc_lite.html?path=console%2Fwebsockify%3Ftoken%3D`,
        ),
        c.url,
      );
      assert.equal(
        (await fetch(`http://127.0.0.1:${consolePort}/console/vnc_lite.html`)).status,
        200,
      );
      const url = websocketOf(c.url);
      assert.match(await banner(url), /^RFB 003\.00\d\n$/);
      await assert.rejects(banner(url), /HTTP 403/);
    });
  },
);
