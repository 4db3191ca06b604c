// End-to-end tests of the tiny image: build (cold, cached, forced and byte-compared), then boot it in
// QEMU (TCG unless a real KVM is usable) from the disk and by direct kernel boot, with a config drive
// on virtio and on a cdrom, metadata over HTTP, ssh, /data across boots and the ACPI power button.
// Skipped, with the reason, only when the host packages are missing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exec, haveCommand } from '../exec.ts';
import {
  accelerator,
  startTestVm,
  type TestVm,
  type TestVmOptions,
} from '../../../test/support/tiny-image-boot.ts';
import { buildTinyImage, type TinyImage } from './build-tiny-image.ts';
import { resolveGuestPackages } from './guest-packages.ts';

const PACKAGES_FOR_COMMANDS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  xorriso: 'xorriso',
  dbclient: 'dropbear-bin',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  'mkfs.ext4': 'e2fsprogs',
  syslinux: 'syslinux',
};

async function whyskip(): Promise<string | false> {
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(PACKAGES_FOR_COMMANDS))
    if (!(await haveCommand(cmd))) missing.push(pkg);
  try {
    // The guest's own packages come from apt (downloaded by the build, not installed).
    await resolveGuestPackages();
  } catch (e) {
    const pkgs = (e as { packages?: readonly string[] }).packages;
    if (!pkgs) throw e;
    missing.push(...pkgs);
  }
  return (
    missing.length > 0 &&
    `host packages missing: apt-get install --no-install-recommends ${[...new Set(missing)].join(' ')}`
  );
}

const skip = await whyskip();
// CI installs the packages (scripts/bootstrap.sh); there a missing one is a failure, not a skip.
if (skip && process.env['NUBES_REQUIRE_SERVICES'] === '1')
  throw new Error(`tiny image tests cannot run: ${skip}`);
const BOOT_TIMEOUT = accelerator() === 'kvm' ? 30_000 : 90_000;
const M = (s: string) => new RegExp(`nubes-tiny: ${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

async function freePort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as { port: number }).port;
  await new Promise((res) => srv.close(res));
  return port;
}

async function configDrive(dir: string, meta: object, userData: string): Promise<string> {
  const root = join(dir, 'config-drive');
  await mkdir(join(root, 'openstack', 'latest'), { recursive: true });
  await writeFile(join(root, 'openstack', 'latest', 'meta_data.json'), JSON.stringify(meta));
  await writeFile(join(root, 'openstack', 'latest', 'user_data'), userData);
  const iso = join(dir, 'config-2.iso');
  // What Nova does with genisoimage: volume id config-2, Joliet and Rock Ridge names.
  await exec([
    'xorriso',
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    iso,
    '-V',
    'config-2',
    '-J',
    '-r',
    root,
  ]);
  return iso;
}

describe('tiny image', { skip }, () => {
  let cache: string;
  let work: string;
  let image: TinyImage;
  const vms: TestVm[] = [];
  let httpServer: Server | undefined;

  before(async () => {
    cache = await mkdtemp(join(tmpdir(), 'nubes-tiny-cache-'));
    work = await mkdtemp(join(tmpdir(), 'nubes-tiny-vm-'));
  });

  after(async () => {
    for (const vm of vms) await vm.kill();
    httpServer?.close();
    await rm(cache, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  async function boot(name: string, o: Omit<TestVmOptions, 'workDir'>): Promise<TestVm> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    const vm = await startTestVm({ workDir: dir, ...o });
    vms.push(vm);
    return vm;
  }

  async function overlay(name: string): Promise<string> {
    const file = join(work, `${name}.qcow2`);
    await exec(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', image.disk, '-F', 'qcow2', file]);
    return file;
  }

  test('builds cold, answers from the cache, and a forced rebuild gives the same bytes', async (t) => {
    const lines: string[] = [];
    let started = Date.now();
    // Two builders at once into an empty cache: both get the one complete image, nothing half-built stays.
    const [a, b] = await Promise.all([
      buildTinyImage({ cacheDir: cache, log: (l) => lines.push(l) }),
      buildTinyImage({ cacheDir: cache }),
    ]);
    const cold = Date.now() - started;
    assert.deepEqual(a, b);
    image = a;
    assert.deepEqual(
      (await readdir(cache)).filter((n) => n.startsWith('.')),
      [],
    );
    assert.match(image.version, /^[0-9a-f]{20}$/);
    assert.equal(image.disk, join(cache, image.version, 'disk.qcow2'));
    assert.match(image.kernelCmdline, /console=ttyS0/);
    const info = JSON.parse(
      (await exec(['qemu-img', 'info', '--output=json', image.disk])).stdout,
    ) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 128 * 1024 * 1024);
    const sizes = {
      disk: (await stat(image.disk)).size,
      kernel: (await stat(image.kernel)).size,
      ramdisk: (await stat(image.ramdisk)).size,
    };
    assert.ok(
      sizes.disk < sizes.kernel + sizes.ramdisk + 4 * 1024 * 1024,
      `qcow2 holds little beyond kernel + initramfs: ${JSON.stringify(sizes)}`,
    );
    const first = {
      disk: await sha256(image.disk),
      kernel: await sha256(image.kernel),
      ramdisk: await sha256(image.ramdisk),
    };

    started = Date.now();
    const again = await buildTinyImage({ cacheDir: cache });
    const cached = Date.now() - started;
    assert.deepEqual(again, image);
    assert.ok(cached < cold, 'the cached answer is faster than a build');

    started = Date.now();
    const forced = await buildTinyImage({ cacheDir: cache, force: true });
    const rebuilt = Date.now() - started;
    assert.equal(forced.version, image.version);
    assert.deepEqual(
      {
        disk: await sha256(forced.disk),
        kernel: await sha256(forced.kernel),
        ramdisk: await sha256(forced.ramdisk),
      },
      first,
    );
    t.diagnostic(
      `build cold (two concurrent builders) ${cold} ms, cached ${cached} ms, forced ${rebuilt} ms; qcow2 ${sizes.disk} B, kernel ${sizes.kernel} B, initramfs ${sizes.ramdisk} B`,
    );
    t.diagnostic(lines.join(' | '));
  });

  test('boots from the disk with a virtio config drive: DHCP, hostname, ssh key, user-data, ssh, power button', async (t) => {
    const dir = join(work, 'boot1');
    await mkdir(dir, { recursive: true });
    const key = join(dir, 'id_ed25519');
    await exec(['dropbearkey', '-t', 'ed25519', '-f', key]);
    const pub = (await exec(['dropbearkey', '-y', '-f', key])).stdout
      .split('\n')
      .find((l) => l.startsWith('ssh-ed25519'))!;
    const iso = await configDrive(
      dir,
      {
        uuid: '6b1ab2f8-6d4c-4a3e-9a43-0d6d2e1f7a01',
        hostname: 'tiny-one.novalocal',
        name: 'tiny one',
        meta: { hostname: 'not-this' },
        public_keys: { 'test key+/1': `${pub}\n` },
      },
      '#!/bin/sh\necho "NUBES-TEST user-data says hello from $(hostname)"\necho persisted-by-user-data > /data/from-user-data\nexit 0\n',
    );
    const sshPort = await freePort();
    const vm = await boot('boot1', {
      disk: await overlay('persist'),
      drives: [{ file: iso, format: 'raw', as: 'virtio', readonly: true }],
      sshPort,
    });
    try {
      const first = await vm.waitFor(M('userspace'), BOOT_TIMEOUT);
      for (const m of [
        'modules loaded',
        'data mounted /dev/vda2',
        'boot-count 1',
        'net eth0 dhcp ok 10.0.2.15',
        'metadata source=config-2 device=/dev/vdb',
        'instance-id 6b1ab2f8-6d4c-4a3e-9a43-0d6d2e1f7a01',
        'hostname tiny-one.novalocal',
        'ssh keys installed 1',
        'dropbear listening on 22',
        'user-data start',
      ]) {
        await vm.waitFor(M(m), BOOT_TIMEOUT);
      }
      await vm.waitFor(/NUBES-TEST user-data says hello from tiny-one\.novalocal/, BOOT_TIMEOUT);
      await vm.waitFor(M('user-data exit 0'), BOOT_TIMEOUT);
      const ready = await vm.waitFor(M('ready'), BOOT_TIMEOUT);
      t.diagnostic(`disk boot (${accelerator()}): userspace at ${first} ms, ready at ${ready} ms`);
      assert.match(vm.serial(), /-----BEGIN SSH HOST KEY KEYS-----\r?\nssh-ed25519 AAAA/);

      const { stdout } = await exec(
        [
          'dbclient',
          '-y',
          '-y',
          '-i',
          key,
          '-p',
          String(sshPort),
          'root@127.0.0.1',
          'hostname; cat /data/from-user-data; cat /data/boot-count',
        ],
        { env: { HOME: dir, PATH: '/usr/bin:/bin' }, timeoutMs: 60_000 },
      );
      assert.deepEqual(stdout.trim().split(/\r?\n/), [
        'tiny-one.novalocal',
        'persisted-by-user-data',
        '1',
      ]);

      // `reboot` inside the guest: busybox init runs rcK, the VM resets and boots again from the disk.
      await exec(
        ['dbclient', '-y', '-y', '-i', key, '-p', String(sshPort), 'root@127.0.0.1', 'reboot'],
        { env: { HOME: dir, PATH: '/usr/bin:/bin' }, timeoutMs: 30_000 },
      ).catch(() => {
        /* the session may drop */
      });
      await vm.waitFor(M('boot-count 2'), BOOT_TIMEOUT);
      await vm.waitFor(/nubes-tiny: ready[^]*nubes-tiny: ready/, BOOT_TIMEOUT);
      assert.match(vm.serial(), /nubes-tiny: data unmounted[^]*nubes-tiny: userspace/);

      await vm.qmp('system_powerdown');
      const code = await vm.waitExit(60_000);
      assert.equal(code, 0, 'QEMU exits by itself after the guest powers off');
      for (const m of ['power button, shutting down', 'data unmounted'])
        assert.match(vm.serial(), M(m));
      // Every marker starts its own line, also those printed while the console shell shows a prompt.
      const markerLines = vm
        .serial()
        .split('\n')
        .filter((l) => l.includes('nubes-tiny: '));
      assert.ok(
        markerLines.length >= 30,
        `markers of two boots and a shutdown: ${markerLines.length}`,
      );
      for (const l of markerLines) assert.match(l, /^nubes-tiny: [^\r]+\r?$/);
    } finally {
      await vm.kill();
    }
  });

  test('a second boot of the same disk keeps /data and reads metadata over HTTP', async (t) => {
    const requests: string[] = [];
    httpServer = createHttpServer((req, res) => {
      requests.push(req.url ?? '');
      const bodies: Record<string, string> = {
        '/openstack/latest/meta_data.json': JSON.stringify({
          uuid: 'e4b7b1c2-0000-4000-8000-000000000002',
          name: 'tiny two',
          public_keys: {},
        }),
        '/openstack/latest/user_data':
          '#!/bin/sh\necho "NUBES-TEST second boot reads $(cat /data/from-user-data)"\n',
      };
      const body = bodies[req.url ?? ''];
      res
        .writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain' })
        .end(body ?? 'not found');
    });
    await new Promise<void>((res) => httpServer!.listen(0, '127.0.0.1', res));
    const metadataPort = (httpServer.address() as { port: number }).port;
    const vm = await boot('boot2', {
      disk: join(work, 'persist.qcow2'),
      metadataPort,
      hotplugPorts: 1,
    });
    try {
      for (const m of [
        'boot-count 3',
        'net eth0 dhcp ok 169.254.169.15',
        'metadata source=http',
        'hostname tiny-two',
        'ssh keys installed 0',
      ]) {
        await vm.waitFor(M(m), BOOT_TIMEOUT);
      }
      await vm.waitFor(/NUBES-TEST second boot reads persisted-by-user-data/, BOOT_TIMEOUT);
      const ready = await vm.waitFor(M('ready'), BOOT_TIMEOUT);
      t.diagnostic(`second disk boot: ready at ${ready} ms`);
      assert.deepEqual(requests, [
        '/openstack/latest/meta_data.json',
        '/openstack/latest/user_data',
      ]);

      // A NIC attached to the running guest gets DHCP too (nic-watch).
      await vm.qmp('netdev_add', { type: 'user', id: 'net1', restrict: true });
      await vm.qmp('device_add', {
        driver: 'virtio-net-pci',
        netdev: 'net1',
        bus: 'rp1',
        id: 'nic1',
      });
      const plugged = await vm.waitFor(M('net eth1 dhcp ok 10.0.2.15'), BOOT_TIMEOUT);
      t.diagnostic(`hot-plugged NIC configured ${plugged - ready} ms after ready`);
    } finally {
      await vm.kill();
    }
  });

  test('direct kernel boot with the disk, a cdrom config drive and no DHCP reaches the same markers', async (t) => {
    const dir = join(work, 'boot3');
    await mkdir(dir, { recursive: true });
    const iso = await configDrive(
      dir,
      {
        uuid: 'aa',
        hostname: 'tiny-three',
        public_keys: {
          a: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== a',
          b: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB== b',
        },
      },
      '#!/bin/sh\necho NUBES-TEST direct boot user-data\nexit 3\n',
    );
    const vm = await boot('boot3', {
      disk: await overlay('direct'),
      direct: { kernel: image.kernel, ramdisk: image.ramdisk, cmdline: image.kernelCmdline },
      drives: [{ file: iso, format: 'raw', as: 'cdrom' }],
      net: 'unplugged',
    });
    try {
      const first = await vm.waitFor(M('userspace'), BOOT_TIMEOUT);
      for (const m of [
        'data mounted /dev/vda2',
        'boot-count 1',
        'net eth0 dhcp failed',
        'metadata source=config-2 device=/dev/sr0',
        'hostname tiny-three',
        'ssh keys installed 2',
        'dropbear listening on 22',
        'user-data exit 3',
      ]) {
        await vm.waitFor(M(m), BOOT_TIMEOUT);
      }
      assert.match(vm.serial(), /NUBES-TEST direct boot user-data/);
      const ready = await vm.waitFor(M('ready'), BOOT_TIMEOUT);
      t.diagnostic(
        `direct kernel boot: userspace at ${first} ms, ready at ${ready} ms (includes ~3 s of failing DHCP)`,
      );
    } finally {
      await vm.kill();
    }
  });
});
