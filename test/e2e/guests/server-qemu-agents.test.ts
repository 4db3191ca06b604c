// Issue 6 end to end, scaled out: a `nubes api` on PostgreSQL and RabbitMQ and `nubes agent`s with
// the qemu driver, each its own process, driven through Debian's `openstack` CLI. A killed agent's
// guests run on and the restarted agent takes them back; a guest live-migrates between two agents
// and back, counting on with its disk, and cold-migrates (confirmed, reverted). Each agent serves
// the VNC console on its own `--console-listen`, and the URL the api gives points there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { randomUUID } from 'node:crypto';
import { freePort, startNubes, removeDir, type NubesProcess } from '../../support/nubes-process.ts';
import { freshBackends } from '../../support/databases.ts';
import { buildTinyImage } from '../../../src/host/tiny-image/build-tiny-image.ts';
import { loadConfig } from '../../../src/cli/config.ts';
import { cloudEntry, osOk } from '../../support/openstack-cli.ts';
import {
  accel,
  banner,
  bootCountOf,
  BOOT_WAIT_MS,
  scaleOut,
  skipNoVnc,
  skipQemu,
  sleep,
  tick,
  USER_DATA,
  websocketOf,
} from '../../support/tiny-guest.ts';

describe(
  `agents on PostgreSQL and RabbitMQ: a killed agent's guests run on, and guests migrate between agents, live and cold (${accel})`,
  { skip: skipQemu || scaleOut.skip },
  () => {
    let backends: Awaited<ReturnType<typeof freshBackends>>;
    let api: NubesProcess;
    let agent: NubesProcess;
    let env: Record<string, string>;
    const host = `qemu-${randomUUID().slice(0, 6)}`;
    const host2 = `${host}-b`;
    let second: NubesProcess | undefined;
    /** Each agent's console listener (the first agent keeps its port over its restart). */
    const consolePorts = new Map<string, number>();
    const startAgent = async (name = host, dataDir?: string) => {
      if (!consolePorts.has(name)) consolePorts.set(name, await freePort());
      return startNubes({
        command: ['agent'],
        args: [
          '--host',
          name,
          '--bus',
          backends.bus.url,
          '--virt-driver',
          'qemu',
          '--console-listen',
          `127.0.0.1:${consolePorts.get(name)}`,
        ],
        readyWhen: /host agent serving/,
        ...(dataDir ? { dataDir } : {}),
      });
    };
    const untilTrue = async (
      what: string,
      check: () => Promise<boolean>,
      ms = BOOT_WAIT_MS,
      why = () => '',
    ) => {
      for (const until = Date.now() + ms; Date.now() < until; await sleep(500))
        if (await check()) return;
      assert.fail(`${what} did not happen. ${why()}\nagent:\n${agent.output().slice(-3000)}`);
    };

    before(async () => {
      backends = await freshBackends(scaleOut.pgUrl!, scaleOut.amqpUrl!);
      api = await startNubes({
        command: ['api'],
        args: ['--database', backends.db.url, '--bus', backends.bus.url],
        env: { NUBES_ADMIN_PASSWORD: 'agent-test-pw' },
      });
      agent = await startAgent();
      env = { OS_CLIENT_CONFIG_FILE: join(api.dataDir, 'admin-clouds.yaml'), OS_CLOUD: 'nubes' };
      writeFileSync(
        env.OS_CLIENT_CONFIG_FILE!,
        stringify({ clouds: { nubes: cloudEntry(api.url, 'admin', 'agent-test-pw', 'admin') } }),
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
      writeFileSync(join(api.dataDir, 'user-data.sh'), USER_DATA);
    });
    after(async () => {
      for (const s of await osOk(['server', 'list', '-f', 'json'], env).catch(() => []))
        await osOk(['server', 'delete', '--wait', s.ID], env).catch(() => undefined);
      await agent?.stop().catch(() => undefined);
      await second?.stop().catch(() => undefined);
      await api?.stop();
      removeDir(agent.dataDir);
      if (second) removeDir(second.dataDir);
      removeDir(api.dataDir);
      await backends.drop();
    });

    it("keeps the guest running through the agent's death and restart, and the restarted agent notices its QEMU die", async () => {
      const s = await osOk(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--user-data',
          join(api.dataDir, 'user-data.sh'),
          '--wait',
          'survivor',
          '-f',
          'json',
        ],
        env,
      );
      const log = () => osOk(['console', 'log', 'show', 'survivor'], env) as Promise<string>;
      let seen = '';
      await untilTrue(
        'the guest booted',
        async () => tick((seen = await log())) >= 2,
        undefined,
        () => seen.slice(-2000),
      );
      const pid = Number(
        readFileSync(join(agent.dataDir, 'compute', 'instances', s.id, 'qemu.pid'), 'utf8'),
      );
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent.child.once('exit', r));
      await sleep(2000);
      assert.doesNotThrow(() => process.kill(pid, 0), 'the guest outlives its agent');
      agent = await startAgent(host, agent.dataDir);
      const shown = await osOk(['server', 'show', 'survivor', '-f', 'json'], env);
      assert.equal(shown.status, 'ACTIVE', 'reconciled: the cloud still has it running');
      assert.equal(shown['OS-EXT-STS:power_state'], 1);
      const before = await log();
      await untilTrue('the guest kept counting', async () => tick(await log()) > tick(before) + 1);
      assert.equal(bootCountOf(await log()), 1, 'the same boot: nothing restarted the guest');
      // The restarted agent watches the guest it did not start.
      process.kill(pid, 'SIGKILL');
      await untilTrue(
        'the server is SHUTOFF',
        async () =>
          (await osOk(['server', 'show', 'survivor', '-f', 'json'], env)).status === 'SHUTOFF',
        30_000,
      );
    });

    it('live-migrates a running guest to a second agent and back (openstack server migrate --live-migration): it keeps counting, with its disk', async () => {
      second = await startAgent(host2);
      const v230 = { ...env, OS_COMPUTE_API_VERSION: '2.30' };
      await osOk(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--user-data',
          join(api.dataDir, 'user-data.sh'),
          '--wait',
          'traveller',
        ],
        env,
      );
      const log = () => osOk(['console', 'log', 'show', 'traveller'], env) as Promise<string>;
      const hostNow = async () =>
        (await osOk(['server', 'show', 'traveller', '-f', 'json'], env))[
          'OS-EXT-SRV-ATTR:host'
        ] as string;
      let seen = '';
      await untilTrue(
        'the guest booted',
        async () => tick((seen = await log())) >= 2,
        undefined,
        () => seen.slice(-2000),
      );
      const from = await hostNow();
      const to = from === host ? host2 : host;
      const before = tick(await log());
      // To the host named, the disks copied (no shared storage between the two agents' data directories).
      await osOk(
        [
          'server',
          'migrate',
          '--live-migration',
          '--host',
          to,
          '--block-migration',
          '--wait',
          'traveller',
        ],
        v230,
      );
      const there = await osOk(['server', 'show', 'traveller', '-f', 'json'], env);
      assert.equal(there.status, 'ACTIVE');
      assert.equal(there['OS-EXT-SRV-ATTR:host'], to);
      const dirOf = (h: string) =>
        join((h === host ? agent : second!).dataDir, 'compute', 'instances', there.id);
      assert.ok(!existsSync(dirOf(from)), 'nothing of the guest is left on the source');
      assert.ok(existsSync(join(dirOf(to), 'qemu.pid')), 'it runs on the destination');
      // The destination's console: the same guest counting on, no boot since.
      await untilTrue(
        'the guest counts on at the destination',
        async () => tick((seen = await log())) > before + 1,
        undefined,
        () => seen.slice(-2000),
      );
      assert.equal(bootCountOf(seen), 0, 'no boot on the destination');
      assert.ok(
        Math.min(...[...seen.matchAll(/NUBES-E2E tick (\d+)/g)].map((m) => Number(m[1]))) >
          before - 1,
        'the counter went on from where it was',
      );
      // Back again, the scheduler choosing (block migration 'auto').
      const back = tick(seen);
      await osOk(['server', 'migrate', '--live-migration', '--wait', 'traveller'], v230);
      assert.equal(await hostNow(), from);
      await untilTrue(
        'the guest counts on back at the first host',
        async () => tick((seen = await log())) > back + 1,
        undefined,
        () => seen.slice(-2000),
      );
      assert.equal(bootCountOf(seen), 0, 'still the first boot');
      // Its disk came along both times: a fresh boot reads boot-count 2 and the note of its first boot.
      await osOk(['server', 'reboot', '--hard', '--wait', 'traveller'], env);
      await untilTrue(
        'the guest booted again',
        async () =>
          /NUBES-E2E note: written on traveller/.test(
            (seen = await log()).split(/nubes-tiny: boot-count 2\b/)[1] ?? '',
          ),
        undefined,
        () => seen.slice(-2000),
      );
      const events = await osOk(['server', 'event', 'list', 'traveller', '-f', 'json'], env);
      assert.equal(
        events.filter((e: { Action: string }) => e.Action === 'live-migration').length,
        2,
      );
    });

    it(
      "gives a console URL on the listener of the agent the guest runs on; its token opens the guest's VNC server, and again on a reload",
      { skip: skipNoVnc },
      async () => {
        const where = (await osOk(['server', 'show', 'traveller', '-f', 'json'], env))[
          'OS-EXT-SRV-ATTR:host'
        ] as string;
        const consolePort = consolePorts.get(where)!;
        const c = await osOk(['console', 'url', 'show', '--novnc', 'traveller', '-f', 'json'], env);
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

    it('cold-migrates (openstack server migrate): the guest shuts down, boots on the other host with its disk; confirm keeps it there, revert brings it back', async () => {
      const log = () => osOk(['console', 'log', 'show', 'traveller'], env) as Promise<string>;
      const shown = async () => osOk(['server', 'show', 'traveller', '-f', 'json'], env);
      const from = (await shown())['OS-EXT-SRV-ATTR:host'] as string;
      const to = from === host ? host2 : host;
      const count = bootCountOf(await log());
      let seen = '';
      // --wait ends at VERIFY_RESIZE, as for a resize.
      await osOk(['server', 'migrate', '--wait', 'traveller'], env);
      let s = await shown();
      assert.equal(s.status, 'VERIFY_RESIZE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], to);
      await untilTrue(
        'the guest booted on the other host from its own disk',
        async () =>
          bootCountOf((seen = await log())) === count + 1 &&
          /NUBES-E2E note: written on traveller/.test(
            seen.split(/nubes-tiny: boot-count \d+/).at(-1)!,
          ),
        undefined,
        () => seen.slice(-2000),
      );
      await osOk(['server', 'migrate', 'confirm', 'traveller'], env);
      await untilTrue('the server is ACTIVE', async () => (s = await shown()).status === 'ACTIVE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], to);
      const dirOf = (h: string) =>
        join((h === host ? agent : second!).dataDir, 'compute', 'instances', s.id);
      assert.ok(!existsSync(dirOf(from)), 'confirmed: nothing of it is left on the first host');

      // Back the other way, then reverted: it boots again where it was (from the disk it had there).
      await osOk(['server', 'migrate', '--host', from, '--wait', 'traveller'], {
        ...env,
        OS_COMPUTE_API_VERSION: '2.56',
      });
      assert.equal((await shown())['OS-EXT-SRV-ATTR:host'], from);
      assert.ok(existsSync(dirOf(to)), 'the source keeps its copy until confirmed or reverted');
      await osOk(['server', 'migrate', 'revert', 'traveller'], env);
      await untilTrue(
        'the server is ACTIVE again',
        async () => (s = await shown()).status === 'ACTIVE',
      );
      assert.equal(s['OS-EXT-SRV-ATTR:host'], to);
      assert.ok(!existsSync(dirOf(from)), 'reverted: the copy on the destination is gone');
      await untilTrue(
        'the guest booted again from its disk on that host',
        async () => bootCountOf((seen = await log())) === count + 2,
        undefined,
        () => seen.slice(-2000),
      );
    });
  },
);
