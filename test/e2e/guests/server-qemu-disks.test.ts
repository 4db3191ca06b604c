// Issue 6 end to end, what changes a real guest's disk, through Debian's `openstack` CLI against
// `nubes up` (the qemu driver; KVM where the host has it, TCG otherwise), each checked by what the
// guest prints on its serial console: a snapshot's new server finds the file the first one wrote,
// a resize gives it more CPUs (reverted to the old disk, then confirmed), a shelved server comes
// back with its disk, a rebuild gives it a fresh one. On a cloud and guest of its own, beside
// server-qemu-cli.test.ts (boot, power, pause, rescue, console), so that the two run at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { osOk } from '../../support/openstack-cli.ts';
import { tinyCloud } from '../../support/tiny-cloud.ts';
import { accel, bootCountOf, skipQemu as skip } from '../../support/tiny-guest.ts';

describe(
  `real guests' disks through the openstack CLI (nubes up, qemu driver, ${accel})`,
  { skip },
  () => {
    const cloud = tinyCloud();
    const { alice, show, consoleLog, guestSays, status, rebooted } = cloud;
    const flavorName = (f: unknown) =>
      typeof f === 'string' ? f.split(' ')[0] : (f as { original_name: string }).original_name;

    it('boots nubes-tiny with user data (--wait), which writes its note on /data', async () => {
      const s = await cloud.createGuest('vm1');
      assert.equal(s.status, 'ACTIVE');
      const out = await guestSays('vm1', /^nubes-tiny: ready/m);
      assert.match(out, /^NUBES-E2E note: written on vm1/m);
      assert.match(out, /^NUBES-E2E cpus=1/m);
      assert.equal(bootCountOf(out), 1);
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
          cloud.userData,
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
      const resizedBoot = bootCountOf(bigger);
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
      assert.ok(bootCountOf(out) > bootCountOf(before), 'the same disk boots again');
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
      assert.equal(bootCountOf(out), 1);
    });
  },
);
