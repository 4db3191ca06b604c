// Issue 6 end to end: real VMs through Debian's `openstack` CLI. `nubes up` (the qemu driver, its
// default where QEMU is installed) boots nubes-tiny on KVM where the host really has it and TCG
// otherwise, and every server operation is checked by what the guest itself prints on its serial
// console (`openstack console log show`): the boot, the hostname and key from the metadata, the
// user data, each reboot (the guest's boot counter on its persistent /data), the memory kept over
// pause and suspend (a counter that keeps counting without a new boot), the rescue system, the
// resized CPUs, the snapshot's file, the shelved disk. kill -9 of a QEMU ends in SHUTOFF. On
// PostgreSQL and RabbitMQ with separate agents: a killed agent's guests run on, and a guest
// live-migrates between two agents and back, counting on, and cold-migrates (confirmed, reverted).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { randomUUID } from 'node:crypto';
import { startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { freshBackends } from '../support/databases.ts';
import { buildTinyImage } from '../../src/host/tiny-image/build-tiny-image.ts';
import { loadConfig } from '../../src/cli/config.ts';
import { cloudEntry, haveOpenstackCli, osOk } from '../support/openstack-cli.ts';
import { chooseAccelerator } from '../../src/host/qemu/accel.ts';

const skip = !haveOpenstackCli()
  ? 'python3-openstackclient is not installed (scripts/test.sh installs it)'
  : !existsSync('/usr/bin/qemu-system-x86_64')
    ? 'qemu-system-x86_64 is not installed (bin/nubes installs qemu-system-x86)'
    : false;
const accel = chooseAccelerator().accel;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A test ed25519 key (no private half anywhere): the guest must list it as installed.
const PUBLIC_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ8ll0DJ2dEyVFc7Qf9jTG0pTgK9mQ8fVq3r1nbWm1B e2e@nubes';

// Runs on every boot: the guest's CPUs, its note on /data (written on the first boot of a disk),
// and a counter that shows the guest's memory lived on (pause, suspend) rather than booted again.
const USER_DATA = `#!/bin/sh
echo "NUBES-E2E cpus=$(grep -c ^processor /proc/cpuinfo)"
[ -f /data/note ] || { echo "written on $(hostname)" > /data/note; sync; }
echo "NUBES-E2E note: $(cat /data/note)"
( n=0; while true; do n=$((n+1)); echo "NUBES-E2E tick $n"; sleep 1; done ) &
`;

const lastNumber = (text: string, re: RegExp) =>
  Math.max(0, ...[...text.matchAll(re)].map((m) => Number(m[1])));
const bootCountOf = (text: string) => lastNumber(text, /^nubes-tiny: boot-count (\d+)/gm);
// Not anchored: the console shell's prompt may start the line a tick is printed on.
const tick = (text: string) => lastNumber(text, /NUBES-E2E tick (\d+)/g);

describe(
  `real guests through the openstack CLI (nubes up, qemu driver, ${accel})`,
  { skip },
  () => {
    let nubes: NubesProcess;
    let alice: Record<string, string>;
    let admin: Record<string, string>;
    const bootWait = accel === 'kvm' ? 90_000 : 240_000;

    before(async () => {
      nubes = await startNubes({ env: { NUBES_TINY_IMAGE: 'on' }, readyWhen: /is up/ });
      admin = { OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'clouds.yaml'), OS_CLOUD: 'nubes' };
      await osOk(['project', 'create', 'vmtest'], admin);
      await osOk(['user', 'create', '--password', 'alice-pw', 'alice'], admin);
      await osOk(['role', 'add', '--user', 'alice', '--project', 'vmtest', 'member'], admin);
      const base = parse(readFileSync(admin.OS_CLIENT_CONFIG_FILE!, 'utf8')).clouds.nubes;
      writeFileSync(
        join(nubes.dataDir, 'alice.yaml'),
        stringify({
          clouds: {
            alice: {
              ...base,
              auth: {
                ...base.auth,
                username: 'alice',
                password: 'alice-pw',
                project_name: 'vmtest',
              },
            },
          },
        }),
      );
      alice = { OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'alice.yaml'), OS_CLOUD: 'alice' };
      await osOk(
        ['flavor', 'create', '--vcpus', '2', '--ram', '192', '--disk', '2', 'e2e.big'],
        admin,
      );
      writeFileSync(join(nubes.dataDir, 'key.pub'), `${PUBLIC_KEY}\n`);
      await osOk(
        ['keypair', 'create', '--public-key', join(nubes.dataDir, 'key.pub'), 'e2e-key'],
        alice,
      );
      writeFileSync(join(nubes.dataDir, 'user-data.sh'), USER_DATA);
    });
    after(async () => {
      if (!nubes) return;
      // Guests outlive the cloud by design: the test removes its own.
      for (const s of await osOk(['server', 'list', '--all-projects', '-f', 'json'], admin).catch(
        () => [],
      ))
        await osOk(['server', 'delete', '--wait', s.ID], admin).catch(() => undefined);
      await nubes.stop();
      removeDir(nubes.dataDir);
    });

    const consoleLog = async (server: string): Promise<string> =>
      osOk(['console', 'log', 'show', server], alice);
    const show = async (server: string) => osOk(['server', 'show', server, '-f', 'json'], alice);
    /** Waits until the console shows `re` in what the guest printed after `from` characters. */
    async function guestSays(server: string, re: RegExp, from = 0): Promise<string> {
      let out = '';
      for (const until = Date.now() + bootWait; Date.now() < until; await sleep(1000)) {
        out = await consoleLog(server);
        if (re.test(out.slice(from))) return out;
      }
      assert.fail(
        `the console of ${server} never showed ${re} after offset ${from}; it ends with:\n${out.slice(-3000)}`,
      );
    }
    const bootCount = bootCountOf;
    async function status(server: string, want: string): Promise<any> {
      for (const until = Date.now() + bootWait; Date.now() < until; await sleep(500)) {
        const s = await show(server);
        if (s.status === want) return s;
        if (s.status === 'ERROR')
          assert.fail(`${server} went to ERROR: ${JSON.stringify(s.fault)}`);
      }
      assert.fail(`${server} never became ${want}`);
    }
    /** Runs an action, waits for `want`, then for the next boot: the boot counter one higher (or `count`). */
    async function rebooted(
      server: string,
      action: string[],
      want = 'ACTIVE',
      count?: number,
    ): Promise<string> {
      const before = await consoleLog(server);
      await osOk(action, alice);
      await status(server, want);
      return guestSays(
        server,
        new RegExp(
          `^nubes-tiny: boot-count ${count ?? bootCount(before) + 1}\\b[\\s\\S]*^nubes-tiny: ready`,
          'm',
        ),
        before.length,
      );
    }
    const flavorName = (f: unknown) =>
      typeof f === 'string' ? f.split(' ')[0] : (f as { original_name: string }).original_name;

    it('boots nubes-tiny with a key and user data (--wait), and the guest says so on its console', async () => {
      const s = await osOk(
        [
          'server',
          'create',
          '--image',
          'nubes-tiny',
          '--flavor',
          'm1.nano',
          '--key-name',
          'e2e-key',
          '--user-data',
          join(nubes.dataDir, 'user-data.sh'),
          '--wait',
          'vm1',
          '-f',
          'json',
        ],
        alice,
      );
      assert.equal(s.status, 'ACTIVE');
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      const out = await guestSays('vm1', /^nubes-tiny: ready/m);
      assert.match(out, /^nubes-tiny: metadata source=config-2/m);
      assert.match(out, /^nubes-tiny: hostname vm1\r?$/m);
      assert.match(out, /^nubes-tiny: ssh keys installed 1\r?$/m);
      assert.match(out, /^nubes-tiny: user-data exit 0/m);
      assert.match(out, /^NUBES-E2E note: written on vm1/m);
      assert.match(out, /^NUBES-E2E cpus=1/m);
      assert.equal(bootCount(out), 1);
    });

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
      assert.equal(bootCount(after), 4);
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
      assert.equal(bootCount(own.slice(rescue.length)), 5, 'back on its own disk, which counts on');
    });

    it('snapshots (server image create), and a new server booted from the snapshot finds the file the first one wrote', async () => {
      await osOk(['server', 'image', 'create', '--name', 'vm1-snap', '--wait', 'vm1'], alice);
      assert.equal(
        (await osOk(['image', 'show', 'vm1-snap', '-f', 'json'], alice)).status,
        'active',
      );
      await osOk(
        [
          'server',
          'create',
          '--image',
          'vm1-snap',
          '--flavor',
          'm1.nano',
          '--user-data',
          join(nubes.dataDir, 'user-data.sh'),
          '--wait',
          'vm2',
        ],
        alice,
      );
      const out = await guestSays('vm2', /^nubes-tiny: ready/m);
      assert.match(out, /^nubes-tiny: hostname vm2\r?$/m);
      assert.match(out, /^NUBES-E2E note: written on vm1/m, 'the disk came with the snapshot');
      await osOk(['server', 'delete', '--wait', 'vm2'], alice);
    });

    it('resizes to more CPUs, reverts to the old flavor, resizes again and confirms', async () => {
      const bigger = await rebooted(
        'vm1',
        ['server', 'resize', '--flavor', 'e2e.big', '--wait', 'vm1'],
        'VERIFY_RESIZE',
      );
      assert.match(bigger.split(/nubes-tiny: boot-count \d+/).at(-1)!, /^NUBES-E2E cpus=2/m);
      // A revert brings back the disk as it was before the resize: its boot counter says the same again.
      const resizedBoot = bootCount(bigger);
      const reverted = await rebooted(
        'vm1',
        ['server', 'resize', 'revert', 'vm1'],
        'ACTIVE',
        resizedBoot,
      );
      assert.match(reverted.split(/nubes-tiny: boot-count \d+/).at(-1)!, /^NUBES-E2E cpus=1/m);
      assert.equal(flavorName((await show('vm1')).flavor), 'm1.nano');
      await rebooted(
        'vm1',
        ['server', 'resize', '--flavor', 'e2e.big', '--wait', 'vm1'],
        'VERIFY_RESIZE',
        resizedBoot + 1,
      );
      await osOk(['server', 'resize', 'confirm', 'vm1'], alice);
      await status('vm1', 'ACTIVE');
      assert.equal(flavorName((await show('vm1')).flavor), 'e2e.big');
    });

    it('shelves (the disk kept as an image, the guest gone from the host) and unshelves with its disk', async () => {
      const before = await consoleLog('vm1');
      await osOk(['server', 'shelve', 'vm1'], alice);
      await status('vm1', 'SHELVED_OFFLOADED');
      assert.equal(
        (await osOk(['image', 'show', 'vm1-shelved', '-f', 'json'], alice)).status,
        'active',
      );
      await osOk(['server', 'unshelve', 'vm1'], alice);
      await status('vm1', 'ACTIVE');
      const out = await guestSays('vm1', /^nubes-tiny: ready/m);
      assert.ok(bootCount(out) > bootCount(before), 'the same disk boots again');
      assert.match(out, /^NUBES-E2E note: written on vm1/m);
      assert.equal(
        (await osOk(['image', 'list', '--name', 'vm1-shelved', '-f', 'json'], alice)).length,
        0,
        'unshelved, the image is gone',
      );
    });

    it('rebuilds from the image: a fresh disk', async () => {
      await osOk(['server', 'rebuild', '--image', 'nubes-tiny', '--wait', 'vm1'], alice);
      const out = await guestSays('vm1', /^nubes-tiny: ready/m);
      assert.equal(bootCount(out), 1);
    });

    it('a QEMU killed with SIGKILL ends SHUTOFF, with a stop action by the cloud; the server starts again', async () => {
      const id = (await show('vm1')).id as string;
      const pid = Number(
        readFileSync(join(nubes.dataDir, 'compute', 'instances', id, 'qemu.pid'), 'utf8'),
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
      const dir = join(nubes.dataDir, 'compute', 'instances', id);
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

const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];

describe(
  `agents on PostgreSQL and RabbitMQ: a killed agent's guests run on, and guests migrate between agents, live and cold (${accel})`,
  {
    skip:
      skip ||
      (pgUrl && amqpUrl
        ? false
        : 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)'),
  },
  () => {
    let backends: Awaited<ReturnType<typeof freshBackends>>;
    let api: NubesProcess;
    let agent: NubesProcess;
    let env: Record<string, string>;
    const host = `qemu-${randomUUID().slice(0, 6)}`;
    const host2 = `${host}-b`;
    let second: NubesProcess | undefined;
    const startAgent = (dataDir?: string) =>
      startNubes({
        command: ['agent'],
        args: ['--host', host, '--bus', backends.bus.url, '--virt-driver', 'qemu'],
        readyWhen: /host agent serving/,
        ...(dataDir ? { dataDir } : {}),
      });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const untilTrue = async (
      what: string,
      check: () => Promise<boolean>,
      ms = accel === 'kvm' ? 90_000 : 240_000,
      why = () => '',
    ) => {
      for (const until = Date.now() + ms; Date.now() < until; await sleep(500))
        if (await check()) return;
      assert.fail(`${what} did not happen. ${why()}\nagent:\n${agent.output().slice(-3000)}`);
    };

    before(async () => {
      backends = await freshBackends(pgUrl!, amqpUrl!);
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
      agent = await startAgent(agent.dataDir);
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
      second = await startNubes({
        command: ['agent'],
        args: ['--host', host2, '--bus', backends.bus.url, '--virt-driver', 'qemu'],
        readyWhen: /host agent serving/,
      });
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
