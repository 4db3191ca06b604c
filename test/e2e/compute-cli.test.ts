// Issue 5, first part, end to end: flavors and key pairs through Debian's `openstack` CLI against a
// real `nubes up`, as an admin and a project member would use them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { haveOpenstackCli, os, osOk } from '../support/openstack-cli.ts';

describe(
  'openstack flavor and keypair commands against nubes up',
  {
    skip: haveOpenstackCli()
      ? false
      : 'python3-openstackclient is not installed (scripts/test.sh installs it)',
  },
  () => {
    let nubes: NubesProcess;
    let admin: Record<string, string>;
    let alpha: string;
    const as = (cloud: string) => ({
      OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'test-clouds.yaml'),
      OS_CLOUD: cloud,
    });

    before(async () => {
      nubes = await startNubes({ args: ['--virt-driver', 'fake'] });
      admin = { OS_CLIENT_CONFIG_FILE: join(nubes.dataDir, 'clouds.yaml'), OS_CLOUD: 'nubes' };
      alpha = (await osOk(['project', 'create', 'alpha', '-f', 'json'], admin)).id;
      await osOk(['user', 'create', '--password', 'alice-pw', 'alice'], admin);
      await osOk(['role', 'add', '--user', 'alice', '--project', 'alpha', 'member'], admin);
      const base = parse(readFileSync(admin.OS_CLIENT_CONFIG_FILE!, 'utf8')).clouds.nubes;
      writeFileSync(
        join(nubes.dataDir, 'test-clouds.yaml'),
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
    });
    after(async () => {
      if (nubes) {
        await nubes.stop();
        removeDir(nubes.dataDir);
      }
    });

    it('the catalog has compute, and the default flavors are there for every user', async () => {
      assert.ok(
        (await osOk(['catalog', 'list', '-f', 'json'], admin)).some(
          (s: any) => s.Type === 'compute' && s.Name === 'nova',
        ),
      );
      const flavors = await osOk(['flavor', 'list', '-f', 'json'], as('alice'));
      assert.deepEqual(flavors.map((f: any) => f.Name).sort(), [
        'm1.large',
        'm1.medium',
        'm1.nano',
        'm1.small',
        'm1.tiny',
        'm1.xlarge',
      ]);
      const nano = await osOk(['flavor', 'show', 'm1.nano', '-f', 'json'], as('alice'));
      assert.deepEqual([nano.vcpus, nano.ram, nano.disk], [1, 128, 1]);
    });

    it('flavor create/show/set/unset/list/delete with properties, a private flavor and its project', async () => {
      const f = await osOk(
        [
          'flavor',
          'create',
          '--ram',
          '256',
          '--vcpus',
          '2',
          '--disk',
          '3',
          '--ephemeral',
          '1',
          '--swap',
          '128',
          '--property',
          'hw:cpu_policy=shared',
          '--private',
          '--project',
          'alpha',
          '--description',
          'a test flavor',
          'gold',
          '-f',
          'json',
        ],
        admin,
      );
      assert.equal(f.name, 'gold');
      assert.equal(f['os-flavor-access:is_public'], false);
      assert.equal(f.description, 'a test flavor');
      const refused = await os(
        ['flavor', 'create', '--ram', '1', '--vcpus', '1', '--disk', '1', 'nope'],
        as('alice'),
      );
      assert.notEqual(refused.code, 0, 'only admins create flavors');
      const seen = await osOk(['flavor', 'show', 'gold', '-f', 'json'], as('alice'));
      assert.deepEqual(
        [seen.ram, seen.vcpus, seen.disk, seen.swap, seen['OS-FLV-EXT-DATA:ephemeral']],
        [256, 2, 3, 128, 1],
      );
      assert.deepEqual(seen.properties, { 'hw:cpu_policy': 'shared' });
      assert.ok(
        (await osOk(['flavor', 'list', '--private', '-f', 'json'], as('alice'))).some(
          (x: any) => x.Name === 'gold',
        ),
        'alpha was given access',
      );
      await osOk(
        [
          'flavor',
          'set',
          '--property',
          'hw:mem_page_size=small',
          '--description',
          'gold standard',
          'gold',
        ],
        admin,
      );
      let shown = await osOk(['flavor', 'show', 'gold', '-f', 'json'], admin);
      assert.deepEqual(shown.properties, {
        'hw:cpu_policy': 'shared',
        'hw:mem_page_size': 'small',
      });
      assert.equal(shown.description, 'gold standard');
      assert.deepEqual(shown.access_project_ids, [alpha]);
      await osOk(
        ['flavor', 'unset', '--property', 'hw:cpu_policy', '--project', 'alpha', 'gold'],
        admin,
      );
      shown = await osOk(['flavor', 'show', 'gold', '-f', 'json'], admin);
      assert.deepEqual(shown.properties, { 'hw:mem_page_size': 'small' });
      assert.notEqual(
        (await os(['flavor', 'show', 'gold'], as('alice'))).code,
        0,
        'without access alice no longer sees it',
      );
      const long = await osOk(['flavor', 'list', '--all', '--long', '-f', 'json'], admin);
      assert.equal(
        long.find((x: any) => x.Name === 'gold').Properties['hw:mem_page_size'],
        'small',
      );
      await osOk(['flavor', 'delete', 'gold'], admin);
      assert.notEqual((await os(['flavor', 'show', 'gold'], admin)).code, 0);
    });

    it('keypair create (generated and imported), list, show, delete', async () => {
      const priv = await osOk(['keypair', 'create', 'generated'], as('alice'));
      assert.match(priv, /-----BEGIN (RSA |OPENSSH )?PRIVATE KEY-----/);
      const { publicKey } = generateKeyPairSync('ed25519');
      const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
      const blob = Buffer.concat([
        Buffer.from([0, 0, 0, 11]),
        Buffer.from('ssh-ed25519'),
        Buffer.from([0, 0, 0, 32]),
        raw,
      ]);
      const pubFile = join(nubes.dataDir, 'id.pub');
      writeFileSync(pubFile, `ssh-ed25519 ${blob.toString('base64')} alice@laptop\n`);
      const imported = await osOk(
        ['keypair', 'create', '--public-key', pubFile, 'laptop', '-f', 'json'],
        as('alice'),
      );
      assert.match(imported.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const list = await osOk(['keypair', 'list', '-f', 'json'], as('alice'));
      assert.deepEqual(list.map((k: any) => k.Name).sort(), ['generated', 'laptop']);
      assert.deepEqual(
        await osOk(['keypair', 'list', '-f', 'json'], admin),
        [],
        "the admin's own list is separate",
      );
      const shown = await osOk(['keypair', 'show', 'laptop', '-f', 'json'], as('alice'));
      assert.equal(shown.fingerprint, imported.fingerprint);
      assert.match(
        await osOk(['keypair', 'show', '--public-key', 'laptop'], as('alice')),
        /^ssh-ed25519 /,
      );
      const dup = await os(['keypair', 'create', '--public-key', pubFile, 'laptop'], as('alice'));
      assert.notEqual(dup.code, 0);
      assert.match(dup.stderr, /already exists/);
      await osOk(['keypair', 'delete', 'generated', 'laptop'], as('alice'));
      assert.deepEqual(await osOk(['keypair', 'list', '-f', 'json'], as('alice')), []);
    });

    it('compute service list, hypervisor list and show, availability zone list: this host, up, on the fake driver', async () => {
      const services = await osOk(['compute', 'service', 'list', '-f', 'json'], admin);
      assert.equal(services.length, 1);
      assert.deepEqual(
        [services[0].Binary, services[0].Status, services[0].State, services[0].Zone],
        ['nova-compute', 'enabled', 'up', 'nova'],
      );
      const hv = await osOk(['hypervisor', 'list', '-f', 'json'], admin);
      assert.equal(hv[0]['Hypervisor Type'], 'fake');
      assert.equal(hv[0].State, 'up');
      const shown = await osOk(
        ['hypervisor', 'show', hv[0]['Hypervisor Hostname'], '-f', 'json'],
        admin,
      );
      assert.equal(shown.hypervisor_type, 'fake');
      assert.ok(shown.vcpus > 0);
      const zones = await osOk(
        ['availability', 'zone', 'list', '--compute', '-f', 'json'],
        as('alice'),
      );
      assert.deepEqual(zones, [{ 'Zone Name': 'nova', 'Zone Status': 'available' }]);
      await osOk(
        [
          'compute',
          'service',
          'set',
          '--disable',
          '--disable-reason',
          'maintenance',
          services[0].Host,
          'nova-compute',
        ],
        admin,
      );
      const off = await osOk(['compute', 'service', 'list', '--long', '-f', 'json'], admin);
      assert.deepEqual([off[0].Status, off[0]['Disabled Reason']], ['disabled', 'maintenance']);
      await osOk(
        ['compute', 'service', 'set', '--enable', services[0].Host, 'nova-compute'],
        admin,
      );
      assert.notEqual(
        (await os(['compute', 'service', 'list'], as('alice'))).code,
        0,
        'admins only',
      );
    });

    it('limits show, quota set and quota show', async () => {
      const limits = await osOk(['limits', 'show', '--absolute', '-f', 'json'], as('alice'));
      const by = Object.fromEntries(limits.map((l: any) => [l.Name, l.Value]));
      assert.deepEqual(
        [by.maxTotalInstances, by.maxTotalCores, by.maxTotalRAMSize, by.totalInstancesUsed],
        [10, 20, 51200, 0],
      );
      await osOk(
        ['quota', 'set', '--instances', '5', '--cores', '8', '--ram', '4096', 'alpha'],
        admin,
      );
      const q = await osOk(['quota', 'show', 'alpha', '-f', 'json'], admin);
      assert.deepEqual([q.instances, q.cores, q.ram], [5, 8, 4096]);
      assert.notEqual(
        (await os(['quota', 'set', '--instances', '50', 'alpha'], as('alice'))).code,
        0,
        'only admins set quotas',
      );
      const after = Object.fromEntries(
        (await osOk(['limits', 'show', '--absolute', '-f', 'json'], as('alice'))).map((l: any) => [
          l.Name,
          l.Value,
        ]),
      );
      assert.equal(after.maxTotalInstances, 5);
    });
  },
);
