// Issue 5 end to end: every server command a tenant and an operator use, through Debian's
// `openstack` CLI, on two layouts: a real `nubes up --virt-driver fake --fake-hosts 3`, and the
// scaled-out cloud (two `nubes api` replicas behind a round-robin balancer on PostgreSQL and
// RabbitMQ, three `nubes agent` processes). Builds with every create option, anti-affinity across
// the three hosts, a quota refusal, the whole action set including resize confirm and revert,
// snapshots, events, console, usage.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  freePort,
  startAll,
  startNubes,
  removeDir,
  type NubesProcess,
} from '../../support/nubes-process.ts';
import { freshBackends } from '../../support/databases.ts';
import { startBalancer } from '../../support/balancer.ts';
import { cloudEntry, haveOpenstackCli, os, osOk } from '../../support/openstack-cli.ts';

export interface Layout {
  readonly name: string;
  readonly skip: string | false;
  /** Starts the cloud; returns where its files go, the admin's clouds.yaml, and how to stop it. */
  start(): Promise<{ dir: string; adminConfig: string; stop(): Promise<void> }>;
}

const FAKE_HOST = { NUBES_FAKE_VCPUS: '4', NUBES_FAKE_MEMORY_MB: '4096' };
const noCli = haveOpenstackCli()
  ? false
  : 'python3-openstackclient is not installed (scripts/test.sh installs it)';
const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];

/** `nubes up` with three fake hosts, in one process. */
export const FAKE_HOSTS_UP: Layout = {
  name: 'nubes up with three fake hosts',
  skip: noCli,
  async start() {
    const nubes = await startNubes({
      args: ['--virt-driver', 'fake', '--fake-hosts', '3'],
      env: FAKE_HOST,
    });
    return {
      dir: nubes.dataDir,
      adminConfig: join(nubes.dataDir, 'clouds.yaml'),
      async stop() {
        await nubes.stop();
        removeDir(nubes.dataDir);
      },
    };
  },
};

/** Two `nubes api` replicas behind a balancer and three `nubes agent`s, on PostgreSQL and RabbitMQ. */
export const SCALED_OUT: Layout = {
  name: 'two api replicas and three agents on PostgreSQL and RabbitMQ',
  skip:
    noCli ||
    (pgUrl && amqpUrl
      ? false
      : 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)'),
  async start() {
    const backends = await freshBackends(pgUrl!, amqpUrl!);
    const balancer = await startBalancer(await freePort());
    // Image data and staging shared by the replicas, as docs/scale-out.md asks.
    const shared = mkdtempSync(join(tmpdir(), 'nubes-shared-'));
    const env = {
      NUBES_ADMIN_PASSWORD: 'layout-admin-pw',
      NUBES_IMAGE_STORE_DIR: join(shared, 'images'),
      NUBES_IMAGE_STAGING_DIR: join(shared, 'staging'),
    };
    const procs: NubesProcess[] = [];
    const stop = async () => {
      for (const p of procs.reverse()) {
        await p.stop();
        removeDir(p.dataDir);
      }
      await balancer.close();
      await backends.drop();
      removeDir(shared);
    };
    try {
      procs.push(
        ...(await Promise.all(
          [1, 2].map(() =>
            startNubes({
              command: ['api'],
              args: [
                '--database',
                backends.db.url,
                '--bus',
                backends.bus.url,
                '--public-url',
                balancer.url,
              ],
              env,
            }),
          ),
        )),
      );
      balancer.setBackends(procs.map((p) => p.url));
      const tag = randomUUID().slice(0, 6);
      procs.push(
        ...(await startAll(
          [1, 2, 3].map((n) => ({
            command: ['agent'],
            args: ['--host', `so-${tag}-${n}`, '--bus', backends.bus.url, '--virt-driver', 'fake'],
            env: FAKE_HOST,
            readyWhen: /host agent serving/,
          })),
        )),
      );
      const dir = procs[0]!.dataDir;
      const adminConfig = join(dir, 'clouds.yaml');
      writeFileSync(
        adminConfig,
        stringify({
          clouds: { nubes: cloudEntry(balancer.url, 'admin', env.NUBES_ADMIN_PASSWORD, 'admin') },
        }),
      );
      for (let n = 0; n < 100; n++) {
        if (
          (
            await osOk(['compute', 'service', 'list', '-f', 'json'], {
              OS_CLIENT_CONFIG_FILE: adminConfig,
              OS_CLOUD: 'nubes',
            })
          ).length === 3
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return { dir, adminConfig, stop };
    } catch (e) {
      await stop();
      throw e;
    }
  },
};

/** The suite on one layout; each layout is a file of its own so that they run at once. */
export function serverCliSuite(layout: Layout): void {
  describe(`openstack server commands: ${layout.name}`, { skip: layout.skip }, () => {
    let cloud: { dir: string; adminConfig: string; stop(): Promise<void> };
    let admin: Record<string, string>;
    let alice: Record<string, string>;
    let alpha: string;
    const status = async (name: string) =>
      (await osOk(['server', 'show', name, '-f', 'json'], alice)).status as string;
    async function until(name: string, want: string): Promise<void> {
      for (let n = 0; n < 200; n++) {
        if ((await status(name)) === want) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail(`${name} never became ${want} (it is ${await status(name)})`);
    }

    before(async () => {
      cloud = await layout.start();
      admin = { OS_CLIENT_CONFIG_FILE: cloud.adminConfig, OS_CLOUD: 'nubes' };
      alpha = (await osOk(['project', 'create', 'alpha', '-f', 'json'], admin)).id;
      await osOk(['user', 'create', '--password', 'alice-pw', 'alice'], admin);
      await osOk(['role', 'add', '--user', 'alice', '--project', 'alpha', 'member'], admin);
      const base = parse(readFileSync(cloud.adminConfig, 'utf8')).clouds.nubes;
      writeFileSync(
        join(cloud.dir, 'alice.yaml'),
        stringify({
          clouds: {
            alice: {
              ...base,
              auth: {
                ...base.auth,
                username: 'alice',
                password: 'alice-pw',
                project_name: 'alpha',
              },
            },
          },
        }),
      );
      alice = { OS_CLIENT_CONFIG_FILE: join(cloud.dir, 'alice.yaml'), OS_CLOUD: 'alice' };
      const disk = join(cloud.dir, 'disk.raw');
      writeFileSync(disk, Buffer.alloc(1024 * 1024));
      await osOk(
        [
          'image',
          'create',
          '--disk-format',
          'raw',
          '--container-format',
          'bare',
          '--file',
          disk,
          '--public',
          'tiny',
        ],
        admin,
      );
    });
    after(async () => {
      await cloud?.stop();
    });

    it('server create with a key, user data, properties, security group, zone and --wait; list, show, set, unset', async () => {
      await osOk(['keypair', 'create', 'k1'], alice);
      const ud = join(cloud.dir, 'user-data.sh');
      writeFileSync(ud, '#!/bin/sh\necho hello\n');
      const s = await osOk(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--key-name',
          'k1',
          '--user-data',
          ud,
          '--property',
          'role=web',
          '--security-group',
          'default',
          '--availability-zone',
          'nova',
          '--wait',
          'web',
          '-f',
          'json',
        ],
        alice,
      );
      assert.equal(s.status, 'ACTIVE');
      assert.equal(s.key_name, 'k1');
      assert.deepEqual(s.properties, { role: 'web' });
      assert.equal(s['OS-EXT-AZ:availability_zone'], 'nova');
      const list = await osOk(['server', 'list', '--long', '-f', 'json'], alice);
      assert.deepEqual(
        list.map((x: any) => [
          x.Name,
          x.Status,
          x['Power State'],
          x['Image Name'],
          x['Flavor Name'],
        ]),
        [['web', 'ACTIVE', 1, 'tiny', 'm1.nano']],
      );
      await osOk(['server', 'set', '--name', 'www', '--property', 'tier=front', 'web'], alice);
      await osOk(['server', 'unset', '--property', 'role', 'www'], alice);
      const shown = await osOk(['server', 'show', 'www', '-f', 'json'], alice);
      assert.deepEqual(shown.properties, { tier: 'front' });
      assert.equal(shown['OS-EXT-SRV-ATTR:host'], undefined, 'host names are for admins');
      // An admin finds another project's server by id (names resolve within the caller's project).
      assert.match(
        (await osOk(['server', 'show', shown.id, '-f', 'json'], admin))['OS-EXT-SRV-ATTR:host'],
        /-[123]$/,
      );
      const none = await osOk(
        [
          '--os-compute-api-version',
          '2.37',
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--nic',
          'none',
          '--wait',
          'isolated',
          '-f',
          'json',
        ],
        alice,
      );
      assert.equal(none.status, 'ACTIVE');
      const bad = await os(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--security-group',
          'web',
          'x',
        ],
        alice,
      );
      assert.notEqual(bad.code, 0);
      await osOk(['server', 'delete', '--wait', 'isolated'], alice);
    });

    it('anti-affinity puts three members on three hosts and refuses a fourth; --all-projects, --status and --name filter', async () => {
      const g = await osOk(
        ['server', 'group', 'create', '--policy', 'anti-affinity', 'spread', '-f', 'json'],
        alice,
      );
      assert.equal(g.policy, 'anti-affinity');
      await osOk(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--hint',
          `group=${g.id}`,
          '--min',
          '3',
          '--max',
          '3',
          '--wait',
          'g',
        ],
        alice,
      );
      const hosts = (
        await osOk(
          ['server', 'list', '--all-projects', '--long', '--name', '^g-', '-f', 'json'],
          admin,
        )
      ).map((x: any) => x.Host);
      assert.equal(new Set(hosts).size, 3, `spread over ${hosts.join(', ')}`);
      const fourth = await os(
        [
          'server',
          'create',
          '--image',
          'tiny',
          '--flavor',
          'm1.nano',
          '--hint',
          `group=${g.id}`,
          '--wait',
          'g4',
        ],
        alice,
      );
      // OSC 6 reports a build that ends in ERROR under --wait on its output (its exit code stays 0).
      assert.match(
        fourth.stdout + fourth.stderr,
        /Error creating server/,
        'no fourth host for the group',
      );
      const failed = await osOk(['server', 'list', '--status', 'ERROR', '-f', 'json'], alice);
      assert.deepEqual(
        failed.map((x: any) => x.Name),
        ['g4'],
      );
      assert.match(
        (await osOk(['server', 'show', 'g4', '-f', 'json'], alice)).fault.message,
        /No valid host/,
      );
      assert.equal(
        (await osOk(['server', 'group', 'show', 'spread', '-f', 'json'], alice)).members.length,
        4,
      );
      await osOk(['server', 'delete', '--wait', 'g-1', 'g-2', 'g-3', 'g4'], alice);
      assert.deepEqual(
        (await osOk(['server', 'list', '-f', 'json'], alice)).map((x: any) => x.Name),
        ['www'],
      );
      await osOk(['server', 'group', 'delete', 'spread'], alice);
    });

    it('refuses a build over quota', async () => {
      await osOk(['quota', 'set', '--instances', '2', 'alpha'], admin);
      await osOk(
        ['server', 'create', '--image', 'tiny', '--flavor', 'm1.nano', '--wait', 'second'],
        alice,
      );
      const over = await os(
        ['server', 'create', '--image', 'tiny', '--flavor', 'm1.nano', 'third'],
        alice,
      );
      assert.notEqual(over.code, 0);
      assert.match(over.stderr, /Quota exceeded for instances/);
      await osOk(['server', 'delete', '--wait', 'second'], alice);
      await osOk(['quota', 'set', '--instances', '10', 'alpha'], admin);
    });

    it('stop, start, reboot --hard, pause, suspend, lock, rescue, shelve, rebuild', async () => {
      for (const [cmd, want] of [
        [['server', 'stop', 'www'], 'SHUTOFF'],
        [['server', 'start', 'www'], 'ACTIVE'],
        [['server', 'reboot', '--hard', '--wait', 'www'], 'ACTIVE'],
        [['server', 'pause', 'www'], 'PAUSED'],
        [['server', 'unpause', 'www'], 'ACTIVE'],
        [['server', 'suspend', 'www'], 'SUSPENDED'],
        [['server', 'resume', 'www'], 'ACTIVE'],
        [['server', 'rescue', 'www'], 'RESCUE'],
        [['server', 'unrescue', 'www'], 'ACTIVE'],
        [['server', 'shelve', 'www'], 'SHELVED_OFFLOADED'],
        [['server', 'unshelve', 'www'], 'ACTIVE'],
        [['server', 'rebuild', '--image', 'tiny', '--wait', 'www'], 'ACTIVE'],
      ] as const) {
        await osOk(cmd, alice);
        await until('www', want);
      }
      await osOk(['server', 'lock', 'www'], alice);
      const locked = await os(['server', 'stop', 'www'], alice);
      assert.notEqual(locked.code, 0);
      assert.match(locked.stderr, /locked/);
      await osOk(['server', 'unlock', 'www'], alice);
    });

    it('resize to VERIFY_RESIZE, confirm; resize again and revert', async () => {
      await osOk(['server', 'resize', '--flavor', 'm1.tiny', '--wait', 'www'], alice);
      assert.equal(await status('www'), 'VERIFY_RESIZE');
      await osOk(['server', 'resize', 'confirm', 'www'], alice);
      await until('www', 'ACTIVE');
      assert.match(
        (await osOk(['server', 'show', 'www', '-f', 'json'], alice)).flavor,
        /^m1\.tiny/,
      );
      await osOk(['server', 'resize', '--flavor', 'm1.nano', '--wait', 'www'], alice);
      assert.equal(await status('www'), 'VERIFY_RESIZE');
      await osOk(['server', 'resize', 'revert', 'www'], alice);
      await until('www', 'ACTIVE');
      assert.match(
        (await osOk(['server', 'show', 'www', '-f', 'json'], alice)).flavor,
        /^m1\.tiny/,
      );
    });

    it('server image create, server event list, console log show', async () => {
      const img = await osOk(
        ['server', 'image', 'create', '--name', 'www-snap', '--wait', 'www', '-f', 'json'],
        alice,
      );
      assert.equal(img.status, 'active');
      assert.equal(
        (await osOk(['image', 'show', 'www-snap', '-f', 'json'], alice)).properties.image_type,
        'snapshot',
      );
      const events = (await osOk(['server', 'event', 'list', 'www', '-f', 'json'], alice)).map(
        (e: any) => e.Action,
      );
      for (const a of [
        'create',
        'stop',
        'start',
        'reboot',
        'resize',
        'confirmResize',
        'revertResize',
        'shelve',
        'unshelve',
        'rebuild',
        'createImage',
      ])
        assert.ok(events.includes(a), a);
      const id = (await osOk(['server', 'show', 'www', '-f', 'json'], alice)).id;
      const create = (await osOk(['server', 'event', 'list', id, '-f', 'json'], admin)).find(
        (e: any) => e.Action === 'create',
      );
      const shown = await osOk(
        ['server', 'event', 'show', id, create['Request ID'], '-f', 'json'],
        admin,
      );
      assert.equal(shown.events[0].result, 'Success');
      assert.match(await osOk(['console', 'log', 'show', 'www'], alice), /fake: spawned/);
    });

    it('quota show, limits show, availability zone list, hypervisor list/show, compute service list, usage list; delete --wait', async () => {
      const by = Object.fromEntries(
        (await osOk(['limits', 'show', '--absolute', '-f', 'json'], alice)).map((l: any) => [
          l.Name,
          l.Value,
        ]),
      );
      assert.deepEqual([by.totalInstancesUsed, by.totalCoresUsed, by.totalRAMUsed], [1, 1, 512]);
      assert.equal((await osOk(['quota', 'show', 'alpha', '-f', 'json'], admin)).instances, 10);
      assert.deepEqual(
        await osOk(['availability', 'zone', 'list', '--compute', '-f', 'json'], alice),
        [{ 'Zone Name': 'nova', 'Zone Status': 'available' }],
      );
      const hv = await osOk(['hypervisor', 'list', '-f', 'json'], admin);
      assert.equal(hv.length, 3);
      const id = (await osOk(['server', 'show', 'www', '-f', 'json'], alice)).id;
      const www = (await osOk(['server', 'show', id, '-f', 'json'], admin))['OS-EXT-SRV-ATTR:host'];
      assert.equal((await osOk(['hypervisor', 'show', www, '-f', 'json'], admin)).running_vms, 1);
      assert.equal((await osOk(['compute', 'service', 'list', '-f', 'json'], admin)).length, 3);
      const usage = await osOk(['usage', 'list', '-f', 'json'], admin);
      // In JSON the project is its id and Servers the detailed list.
      assert.ok(
        usage.some((u: any) => u.Project === alpha && u.Servers.some((x: any) => x.name === 'www')),
      );
      await osOk(['server', 'delete', '--wait', 'www'], alice);
      assert.deepEqual(await osOk(['server', 'list', '-f', 'json'], alice), []);
    });
  });
}
