// The QEMU driver on real QEMU (KVM where the host really has it, TCG otherwise) with the
// nubes-tiny image: the shared virt driver contract, and a guest that boots from its overlay,
// reads its config drive (hostname, key, user data) and says so on its serial console.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from './qemu-driver.ts';
import { instanceSpec, runVirtDriverContract } from '../driver.contract.ts';
import type { ImageSpec } from '../driver.ts';
import { buildTinyImage, type TinyImage } from '../../../../host/tiny-image/build-tiny-image.ts';
import { chooseAccelerator } from '../../../../host/qemu/accel.ts';
import { haveCommand } from '../../../../host/exec.ts';
import { cpuCgroupLayout } from '../../../../host/cgroups.ts';

const missing = !(await haveCommand('qemu-system-x86_64'))
  ? 'qemu-system-x86_64 is not installed (bin/nubes installs qemu-system-x86)'
  : !(await haveCommand('genisoimage'))
    ? 'genisoimage is not installed (bin/nubes installs it)'
    : false;
const accel = chooseAccelerator().accel;
const scratch = mkdtempSync(join(tmpdir(), 'nubes-qemu-driver-'));
let tiny: TinyImage | undefined;
const tinyImage = async (): Promise<ImageSpec> => {
  tiny ??= await buildTinyImage({ cacheDir: join(scratch, 'build-cache') });
  const disk = tiny.disk;
  return {
    id: '0d5e8f3a-1b2c-4d5e-8f9a-0b1c2d3e4f50',
    diskFormat: 'qcow2',
    checksum: null,
    properties: {},
    open: async () => createReadStream(disk),
  };
};
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

runVirtDriverContract(
  `qemu (${accel})`,
  async () => {
    const stateDir = mkdtempSync(join(scratch, 'state-'));
    const driver = new QemuDriver({ stateDir, accel, shutdownTimeoutSeconds: 3 });
    return {
      driver,
      image: await tinyImage(),
      async crash(uuid) {
        const pid = Number(readFileSync(join(stateDir, 'instances', uuid, 'qemu.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
      },
      async close() {
        for (const i of await driver.listInstances()) await driver.destroy(i.uuid);
        driver.close();
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
  },
  { skip: missing },
);

describe(`qemu driver boots nubes-tiny (${accel})`, { skip: missing }, () => {
  let driver: QemuDriver;
  let stateDir: string;
  before(() => {
    stateDir = mkdtempSync(join(scratch, 'boot-'));
    driver = new QemuDriver({ stateDir, accel });
  });
  after(async () => {
    for (const i of await driver.listInstances()) await driver.destroy(i.uuid);
    driver.close();
  });

  it('boots from its overlay, reads the config drive and runs the user data', async () => {
    const spec = instanceSpec(await tinyImage(), {
      hostname: 'qemu-guest',
      flavor: { vcpus: 1, memoryMb: 192, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
      metadata: {
        publicKeys: {
          k1: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ8ll0DJ2dEyVFc7Qf9jTG0pTgK9mQ8fVq3r1nbWm1B test',
        },
        meta: {},
        userData: Buffer.from('#!/bin/sh\necho "NUBES-TEST user-data ran"\n').toString('base64'),
        configDrive: true,
      },
    });
    await driver.spawn(spec);
    const deadline = Date.now() + (accel === 'kvm' ? 60_000 : 120_000);
    let out = '';
    while (Date.now() < deadline && !/NUBES-TEST user-data ran/.test(out)) {
      await new Promise((r) => setTimeout(r, 500));
      out = await driver.consoleOutput(spec.uuid, 1 << 20);
    }
    assert.match(out, /nubes-tiny: metadata source=config-2/);
    assert.match(out, /nubes-tiny: hostname qemu-guest/);
    assert.match(out, /NUBES-TEST user-data ran/);
    assert.equal(await driver.powerState(spec.uuid), 'running');
    await driver.destroy(spec.uuid);
    assert.deepEqual(await driver.listInstances(), []);
  });

  it("caps a guest's CPU in a cgroup of its own and its disk I/O, from the flavor; refuses bad limits before making anything", async (t) => {
    const layout = await cpuCgroupLayout();
    if (!layout) {
      t.skip('this host has no cpu cgroup controller');
      return;
    }
    const spec = instanceSpec(await tinyImage(), {
      flavor: {
        vcpus: 1,
        memoryMb: 128,
        rootGb: 1,
        ephemeralGb: 0,
        swapMb: 0,
        extraSpecs: {
          'quota:cpu_quota': '50000',
          'quota:cpu_period': '100000',
          'quota:disk_total_iops_sec': '200',
        },
      },
    });
    await driver.spawn(spec);
    const dir = join(stateDir, 'instances', spec.uuid);
    const pid = readFileSync(join(dir, 'qemu.pid'), 'utf8').trim();
    const group = join(layout.root, 'nubes', spec.uuid);
    assert.ok(
      readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').includes(pid),
      "QEMU runs in the guest's cgroup",
    );
    assert.equal(
      readFileSync(
        join(group, layout.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us'),
        'utf8',
      ).trim(),
      layout.version === 2 ? '50000 100000' : '50000',
    );
    assert.match(
      readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
      /throttle-group,id=root-tg,x-iops-total=200/,
    );
    await driver.powerOff(spec.uuid, 0);
    await driver.powerOn(spec.uuid);
    const again = readFileSync(join(dir, 'qemu.pid'), 'utf8').trim();
    assert.ok(
      readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').includes(again),
      'a restarted QEMU goes back into it',
    );
    await driver.destroy(spec.uuid);
    assert.ok(!existsSync(group), 'destroy removes the cgroup');
    const bad = instanceSpec(await tinyImage(), {
      flavor: { ...spec.flavor, extraSpecs: { 'quota:cpu_quota': 'half' } },
    });
    await assert.rejects(driver.spawn(bad), /quota:cpu_quota=half must be a whole number/);
    assert.ok(!existsSync(join(stateDir, 'instances', bad.uuid)));
  });

  it('snapshots a running guest, and a new guest booted from the snapshot finds what the first wrote', async () => {
    const waitFor = async (uuid: string, re: RegExp) => {
      const until = Date.now() + (accel === 'kvm' ? 60_000 : 120_000);
      let out = '';
      while (Date.now() < until && !re.test(out)) {
        await new Promise((r) => setTimeout(r, 500));
        out = await driver.consoleOutput(uuid, 1 << 20);
      }
      assert.match(out, re);
    };
    const ud = (script: string) =>
      Buffer.from(
        `#!/bin/sh
${script}
`,
      ).toString('base64');
    const first = instanceSpec(await tinyImage(), {
      metadata: {
        publicKeys: {},
        meta: {},
        configDrive: true,
        userData: ud(
          'echo "written by the first guest" > /data/note; sync; echo "NUBES-TEST wrote note"',
        ),
      },
    });
    await driver.spawn(first);
    await waitFor(first.uuid, /NUBES-TEST wrote note/);
    const snap = join(stateDir, 'snap.qcow2');
    await driver.snapshot(first.uuid, async (data, format) => {
      assert.equal(format, 'qcow2');
      await pipeline(data, createWriteStream(snap));
    });
    assert.equal(
      await driver.powerState(first.uuid),
      'running',
      'the guest runs on after its snapshot',
    );
    const image: ImageSpec = {
      id: crypto.randomUUID(),
      diskFormat: 'qcow2',
      checksum: null,
      properties: {},
      open: async () => createReadStream(snap),
    };
    const second = instanceSpec(image, {
      metadata: {
        publicKeys: {},
        meta: {},
        configDrive: true,
        userData: ud('echo "NUBES-TEST found: $(cat /data/note)"'),
      },
    });
    await driver.spawn(second);
    await waitFor(second.uuid, /NUBES-TEST found: written by the first guest/);
  });
});

/** Whether any process runs with `path` in its command line (a QEMU of that instance directory). */
function runsFrom(path: string): boolean {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path)) return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

describe(`qemu driver undoes what a failed step made (${accel})`, { skip: missing }, () => {
  it('leaves nothing of the instance, in its directory or on shared storage, when a step fails midway', async () => {
    const stateDir = mkdtempSync(join(scratch, 'undo-'));
    const shared = mkdtempSync(join(scratch, 'shared-'));
    // An address not on this host: the destination's QEMU runs before listening on it fails.
    const undoFailures: unknown[] = [];
    const driver = new QemuDriver({
      stateDir,
      accel,
      instancesPath: shared,
      migrationAddress: '203.0.113.1',
      log: { warn: (...a: unknown[]) => void undoFailures.push(a) },
    });
    try {
      const image = await tinyImage();
      // QEMU refuses to start: the disks and the config drive were made by then.
      const tooBig = instanceSpec(image, {
        flavor: {
          vcpus: 9999,
          memoryMb: 128,
          rootGb: 1,
          ephemeralGb: 1,
          swapMb: 64,
          extraSpecs: {},
        },
      });
      await assert.rejects(driver.spawn(tooBig), /could not start instance/);
      // QEMU runs, waiting for the guest, when the step after it fails.
      const incoming = instanceSpec(image);
      await assert.rejects(
        driver.prepareMigration(incoming, { block: true }),
        /could not start instance .*203\.0\.113\.1/,
      );
      for (const spec of [tooBig, incoming]) {
        assert.ok(!existsSync(join(stateDir, 'instances', spec.uuid)), 'no instance directory');
        assert.ok(!existsSync(join(shared, spec.uuid)), 'no disks on the shared storage');
        assert.ok(!runsFrom(join(stateDir, 'instances', spec.uuid)), 'no QEMU left running');
      }
      assert.deepEqual(await driver.listInstances(), []);
      assert.deepEqual(undoFailures, [], 'every undo worked');
      // What was shared by every instance stays: the image cache.
      assert.deepEqual(readdirSync(shared), ['image-cache']);
    } finally {
      for (const i of await driver.listInstances()) await driver.destroy(i.uuid);
      driver.close();
    }
  });

  it('a resize whose new QEMU cannot start leaves the instance running as it was, with nothing to revert', async () => {
    const stateDir = mkdtempSync(join(scratch, 'undo-resize-'));
    const driver = new QemuDriver({ stateDir, accel, shutdownTimeoutSeconds: 1 });
    try {
      const spec = instanceSpec(await tinyImage());
      await driver.spawn(spec);
      await assert.rejects(driver.resize(spec.uuid, { ...spec.flavor, vcpus: 9999 }));
      assert.equal(await driver.powerState(spec.uuid), 'running', 'started again as it was');
      const dir = join(stateDir, 'instances', spec.uuid);
      const def = JSON.parse(readFileSync(join(dir, 'vm.json'), 'utf8')) as { vcpus: number };
      assert.equal(def.vcpus, 1, 'its own definition');
      assert.ok(
        !existsSync(join(dir, 'vm.pre-resize.json')) &&
          !existsSync(join(dir, 'disk.pre-resize.qcow2')),
        'nothing to revert: a new resize may go ahead',
      );
      await assert.rejects(driver.revertResize(spec.uuid, spec.flavor), /no resize to revert/);
    } finally {
      for (const i of await driver.listInstances()) await driver.destroy(i.uuid);
      driver.close();
    }
  });
});
