// Hot-plug on real QEMU, proved by the nubes-tiny guest: a volume plugged into the running guest
// appears as a new virtio disk whose first bytes the guest reads back, a NIC appears with its MAC,
// and both disappear from the guest when unplugged; a stopped instance gets them at its next start
// in the same slots, and a guest that is suspended refuses a change its saved state could not carry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from './qemu-driver.ts';
import type { InstanceSpec } from '../driver.ts';
import {
  accel,
  bootReady,
  cleanUp,
  flavor,
  missing,
  spec,
  stateDir,
  tinyImage,
  waitUntil,
} from '../../../../../test/support/qemu-test-guest.ts';

describe(
  `hot-plug of volumes and interfaces on the qemu driver (${accel})`,
  { skip: missing },
  () => {
    // Every second, when something changed: the guest's virtio disks with the first 16 bytes of each
    // one that is not vda, and its NICs with their MACs.
    const script = `
( last=; while :; do
  d=$(for b in /sys/block/vd*; do n=\${b##*/}; [ "$n" = vda ] && continue; printf '%s:%s,' "$n" "$(head -c 16 /dev/$n 2>/dev/null | tr -c 'A-Za-z0-9-' '_')"; done)
  n=$(for i in /sys/class/net/*; do [ "\${i##*/}" = lo ] || printf '%s,' "$(cat $i/address)"; done)
  now="disks=$d nics=$n"; [ "$now" = "$last" ] || { echo "NUBES-TEST devices $now"; last=$now; }
  sleep 1
done ) &
`;
    const dirs: string[] = [];
    const drivers: QemuDriver[] = [];
    let driver: QemuDriver;
    let guest: InstanceSpec;
    let volumes: string;
    const console = () => driver.consoleOutput(guest.uuid, 1 << 20);
    /** The guest's last `devices` line once it satisfies `want`. */
    const devices = (what: string, want: (line: string) => boolean) =>
      waitUntil(
        what,
        async () => {
          const lines = [...(await console()).matchAll(/NUBES-TEST devices ([^\r\n]*)/g)].map(
            (m) => m[1]!,
          );
          const last = lines.at(-1);
          return last !== undefined && want(last) ? last : undefined;
        },
        console,
      );
    const volume = (name: string, magic: string) => {
      const path = join(volumes, name);
      writeFileSync(path, magic);
      truncateSync(path, 16 << 20);
      return {
        volumeId: crypto.randomUUID(),
        path,
        format: 'raw' as const,
        device: null,
        readOnly: false,
      };
    };

    before(async () => {
      const state = stateDir();
      dirs.push(state);
      volumes = mkdtempSync(join(tmpdir(), 'nubes-hotplug-volumes-'));
      driver = new QemuDriver({ stateDir: state, accel, shutdownTimeoutSeconds: 30 });
      drivers.push(driver);
      guest = spec(await tinyImage(), flavor(), script);
      await driver.spawn(guest);
      await bootReady(driver, guest.uuid, 1, /NUBES-TEST devices/);
    });
    after(async () => {
      await cleanUp(drivers, dirs);
      rmSync(volumes, { recursive: true, force: true });
    });

    it('plugs a volume into the running guest, which reads it, and unplugs it again', async () => {
      const v = volume('one.raw', 'NUBES-VOLUME-ONE');
      const { device } = await driver.attachVolume(guest.uuid, v);
      assert.equal(device, 'vdb');
      await devices('the guest to see the volume', (l) => /disks=vdb:NUBES-VOLUME-ONE,/.test(l));
      await driver.detachVolume(guest.uuid, v.volumeId);
      await devices('the volume to leave the guest', (l) => /^disks= /.test(l));
    });

    it('plugs and unplugs a NIC, which the guest sees with its MAC', async () => {
      await driver.attachInterface(guest.uuid, {
        portId: 'port-1',
        mac: 'fa:16:3e:12:34:56',
        bridge: null,
      });
      await devices('the guest to see the NIC', (l) => l.includes('fa:16:3e:12:34:56'));
      await driver.detachInterface(guest.uuid, 'port-1');
      await devices('the NIC to leave the guest', (l) => !l.includes('fa:16:3e:12:34:56'));
    });

    it('attaches to a stopped instance: the next start has the volume and NIC; a suspended one refuses', async () => {
      await driver.powerOff(guest.uuid, 30);
      const v = volume('two.raw', 'NUBES-VOLUME-TWO');
      await driver.attachVolume(guest.uuid, v);
      await driver.attachInterface(guest.uuid, {
        portId: 'port-2',
        mac: 'fa:16:3e:65:43:21',
        bridge: null,
      });
      await driver.powerOn(guest.uuid);
      await devices(
        'the next boot to have both',
        (l) => /disks=vdb:NUBES-VOLUME-TWO,/.test(l) && l.includes('fa:16:3e:65:43:21'),
      );
      await driver.suspend(guest.uuid);
      await assert.rejects(driver.attachVolume(guest.uuid, volume('three.raw', 'x')), /suspended/);
      await assert.rejects(driver.detachVolume(guest.uuid, v.volumeId), /suspended/);
      await driver.resume(guest.uuid);
      await driver.detachVolume(guest.uuid, v.volumeId);
      await devices('the volume to leave the resumed guest', (l) => /^disks= /.test(l));
    });
  },
);
