// Issue 6 end to end: real VMs through Debian's `openstack` CLI. `nubes up` (the qemu driver, its
// default where QEMU is installed) boots nubes-tiny on KVM where the host really has it and TCG
// otherwise, and every server operation is checked by what the guest itself prints on its serial
// console (`openstack console log show`): the boot, the hostname and key from the metadata, the
// user data, each reboot (the guest's boot counter on its persistent /data), the memory kept over
// pause and suspend (a counter that keeps counting without a new boot), the rescue system; kill -9
// of a QEMU ends in SHUTOFF. While the guest runs, its VNC console (`openstack console url show
// --novnc`): the URL's token opens the guest's VNC server once, and noVNC in Debian's Chromium,
// headless, shows its screen. Snapshot, resize, shelve and rebuild (what changes a guest's disk)
// are in server-qemu-disks.test.ts, on a cloud and guest of their own so that both run at once;
// agents on PostgreSQL and RabbitMQ in server-qemu-agents.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { osOk } from '../../support/openstack-cli.ts';
import { tinyCloud } from '../../support/tiny-cloud.ts';
import {
  accel,
  banner,
  bootCountOf,
  CHROMIUM,
  skipNoVnc,
  skipQemu as skip,
  sleep,
  tick,
  websocketOf,
} from '../../support/tiny-guest.ts';

describe(
  `real guests through the openstack CLI (nubes up, qemu driver, ${accel})`,
  { skip },
  () => {
    const cloud = tinyCloud();
    const { admin, alice, consoleLog, show, guestSays, status, rebooted } = cloud;

    it('boots nubes-tiny with a key and user data (--wait), and the guest says so on its console', async () => {
      const s = await cloud.createGuest('vm1');
      assert.equal(s.status, 'ACTIVE');
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      const out = await guestSays('vm1', /^nubes-tiny: ready/m);
      assert.match(out, /^nubes-tiny: metadata source=config-2/m);
      assert.match(out, /^nubes-tiny: hostname vm1\r?$/m);
      assert.match(out, /^nubes-tiny: ssh keys installed 1\r?$/m);
      assert.match(out, /^nubes-tiny: user-data exit 0/m);
      assert.match(out, /^NUBES-E2E note: written on vm1/m);
      assert.match(out, /^NUBES-E2E cpus=1/m);
      assert.equal(bootCountOf(out), 1);
    });

    // The console while vm1 runs: reading it changes nothing in the guest, so it needs no guest of its own.
    const consoleUrl = async (): Promise<string> => {
      const c = await osOk(['console', 'url', 'show', '--novnc', 'vm1', '-f', 'json'], alice);
      assert.equal(c.type, 'novnc');
      assert.ok(
        c.url.startsWith(
          `${cloud.nubes.url}/console/vnc_lite.html?path=console%2Fwebsockify%3Ftoken%3D`,
        ),
        c.url,
      );
      return c.url;
    };

    it(
      "the VNC console: the URL's token opens the guest's VNC server, again on a page reload; a token not given is refused",
      { skip: skipNoVnc },
      async () => {
        const url = websocketOf(await consoleUrl());
        assert.match(await banner(url), /^RFB 003\.00\d\n$/);
        // A reload of the page connects again with the same token, as with Nova's tokens.
        assert.match(await banner(url), /^RFB 003\.00\d\n$/);
        const forged = url.replace(
          /token=(.)/,
          (_m, c: string) => `token=${c === 'a' ? 'b' : 'a'}`,
        );
        assert.notEqual(forged, url);
        await assert.rejects(banner(forged), /HTTP 403/);
      },
    );

    it(
      "the VNC console serves noVNC's page and scripts, and no file outside them",
      { skip: skipNoVnc },
      async () => {
        const page = await fetch(`${cloud.nubes.url}/console/vnc_lite.html`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /noVNC/);
        const rfb = await fetch(`${cloud.nubes.url}/console/core/rfb.js`);
        assert.equal(rfb.status, 200);
        assert.match(rfb.headers.get('content-type')!, /javascript/);
        assert.equal(
          (await fetch(`${cloud.nubes.url}/console/..%2f..%2f..%2fetc%2fpasswd`)).status,
          404,
        );
        assert.equal(
          (await fetch(`${cloud.nubes.url}/console/core/..%2f..%2f..%2fetc%2fpasswd`)).status,
          404,
        );
      },
    );

    it(
      "the VNC console shows the guest's screen in noVNC in a browser (Chromium, headless)",
      { skip: skipNoVnc },
      async (t) => {
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
      },
    );

    it('stops (the guest shuts down cleanly) and starts; reboots soft and hard', async () => {
      let before = await consoleLog('vm1');
      await osOk(['server', 'stop', 'vm1'], alice);
      await status('vm1', 'SHUTOFF');
      assert.match(
        (await consoleLog('vm1')).slice(before.length),
        /^nubes-tiny: power button, shutting down/m,
        'an ACPI shutdown, not a plug pulled',
      );
      before = await consoleLog('vm1');
      await osOk(['server', 'start', 'vm1'], alice);
      await status('vm1', 'ACTIVE');
      await guestSays(
        'vm1',
        /^nubes-tiny: boot-count 2\b[\s\S]*^nubes-tiny: ready/m,
        before.length,
      );
      const soft = await rebooted('vm1', ['server', 'reboot', '--wait', 'vm1']);
      assert.match(soft, /^nubes-tiny: shutting down/m, 'a soft reboot lets the guest shut down');
      const hard = await consoleLog('vm1');
      const after = await rebooted('vm1', ['server', 'reboot', '--hard', '--wait', 'vm1']);
      assert.doesNotMatch(
        after.slice(hard.length),
        /^nubes-tiny: shutting down/m,
        'a hard reboot is a reset',
      );
      assert.equal(bootCountOf(after), 4);
    });

    it('pauses and unpauses, suspends and resumes: the guest keeps counting where it was, with no new boot', async () => {
      for (const [stop, resume, during] of [
        ['pause', 'unpause', 'PAUSED'],
        ['suspend', 'resume', 'SUSPENDED'],
      ] as const) {
        await guestSays('vm1', /NUBES-E2E tick \d+/);
        await osOk(['server', stop, 'vm1'], alice);
        await status('vm1', during);
        const frozen = await consoleLog('vm1');
        await sleep(3000);
        assert.ok(tick(await consoleLog('vm1')) <= tick(frozen) + 1, `no ticks while ${during}`);
        await osOk(['server', resume, 'vm1'], alice);
        await status('vm1', 'ACTIVE');
        const later = await guestSays(
          'vm1',
          new RegExp(`NUBES-E2E tick ${tick(frozen) + 2}\\b`),
          frozen.length,
        );
        assert.doesNotMatch(
          later.slice(frozen.length),
          /^nubes-tiny: boot /m,
          `${resume} continues the guest, it does not boot it`,
        );
      }
    });

    it("rescues (a fresh rescue system first, the server's disk second) and unrescues back to its own disk", async () => {
      const before = await consoleLog('vm1');
      await osOk(['server', 'rescue', 'vm1'], alice);
      await status('vm1', 'RESCUE');
      const rescue = await guestSays('vm1', /^nubes-tiny: ready/m, before.length);
      const rescued = rescue.slice(before.length);
      assert.match(
        rescued,
        /^nubes-tiny: data mounted \/dev\/vda2/m,
        'the rescue disk boots first',
      );
      assert.match(rescued, /^nubes-tiny: boot-count 1\b/m, 'a fresh copy of the rescue image');
      const own = await rebooted('vm1', ['server', 'unrescue', 'vm1']);
      assert.equal(
        bootCountOf(own.slice(rescue.length)),
        5,
        'back on its own disk, which counts on',
      );
    });

    it('a QEMU killed with SIGKILL ends SHUTOFF, with a stop action by the cloud; the server starts again', async () => {
      const id = (await show('vm1')).id as string;
      const pid = Number(
        readFileSync(join(cloud.nubes.dataDir, 'compute', 'instances', id, 'qemu.pid'), 'utf8'),
      );
      process.kill(pid, 'SIGKILL');
      const s = await status('vm1', 'SHUTOFF');
      assert.equal(s['OS-EXT-STS:power_state'], 4);
      const events = await osOk(['server', 'event', 'list', 'vm1', '-f', 'json'], alice);
      assert.equal(events[0].Action, 'stop', "the newest action is the cloud's stop");
      const detail = await osOk(
        [
          '--os-compute-api-version',
          '2.84',
          'server',
          'event',
          'show',
          id,
          events[0]['Request ID'],
          '-f',
          'json',
        ],
        admin,
      );
      assert.match(JSON.stringify(detail.events), /exited unexpectedly/);
      await rebooted('vm1', ['server', 'start', 'vm1']);
    });

    it('deletes: the guest and its files are gone from the host', async () => {
      const id = (await show('vm1')).id as string;
      const dir = join(cloud.nubes.dataDir, 'compute', 'instances', id);
      const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8'));
      await osOk(['server', 'delete', '--wait', 'vm1'], alice);
      assert.ok(!existsSync(dir));
      // Exited: gone, or a zombie until this machine's init reaps it (QEMU daemonized, its parent is init).
      const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
      assert.ok(
        stat === '' || /^\d+ \(.*\) Z/.test(stat),
        `QEMU (pid ${pid}) has exited: ${stat.slice(0, 80)}`,
      );
    });
  },
);
