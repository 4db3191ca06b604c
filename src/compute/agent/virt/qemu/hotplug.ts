// Disks and NICs added to and removed from a VM definition, and from its running QEMU: each on a
// spare PCIe root port of its own (q35 cannot add ports later, so argv.ts makes `hotplugPorts` of
// them at start), kept in the definition so later starts put it in the same slot. A running guest
// gets it with blockdev-add + device_add; unplugging asks the guest to let go (device_del) and
// waits for QEMU's DEVICE_DELETED before the disk's nodes go.
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpMonitor } from '../../../../host/qemu/qmp/monitor.ts';
import { blockdevAdd, blockdevDel } from '../../../../host/qemu/qmp/block.ts';
import { deviceAdd, deviceDel } from '../../../../host/qemu/qmp/devices.ts';
import { Undo } from '../../../../host/undo.ts';
import type { VmDefinition, VmDisk, VmNic } from '../../../../host/qemu/argv.ts';
import { VirtError, type NicSpec, type VolumeSpec } from '../driver.ts';

/** How long a guest may take to release an unplugged device (Nova's libvirt retries for about as long). */
const UNPLUG_TIMEOUT_MS = 60_000;
/** How often the unplug request is repeated for a guest that has not answered it. */
const REPRESS_MS = 5_000;

/** The first root port no disk or NIC sits on. */
function freePort(def: VmDefinition): string {
  const used = new Set([...def.disks.map((d) => d.port), ...def.nics.map((n) => n.port)]);
  for (let i = 1; i <= def.hotplugPorts; i++) if (!used.has(`hp${i}`)) return `hp${i}`;
  throw new VirtError(
    `instance ${def.uuid} has no free hot-plug slot left (${def.hotplugPorts}); detach a volume or interface first`,
  );
}

/** The guest device name the n-th virtio disk gets: vda, vdb, ... (a hint, as in Nova: the guest names its disks itself). */
const diskName = (n: number) =>
  `vd${n < 26 ? String.fromCharCode(97 + n) : `${String.fromCharCode(96 + Math.floor(n / 26))}${String.fromCharCode(97 + (n % 26))}`}`;

/** The definition with `volume` as one more disk, and the device name it is given. */
export async function withVolume(
  def: VmDefinition,
  volume: VolumeSpec,
): Promise<{ def: VmDefinition; disk: VmDisk; device: string }> {
  if (def.disks.some((d) => d.volumeId === volume.volumeId))
    throw new VirtError(`volume ${volume.volumeId} is already attached to instance ${def.uuid}`);
  const info = await stat(volume.path).catch(() => null);
  if (!info || (!info.isFile() && !info.isBlockDevice()))
    throw new VirtError(
      `volume ${volume.volumeId} is not at ${volume.path} on this host (no such file or block device)`,
    );
  const virtio = def.disks.filter((d) => d.bus === 'virtio');
  const taken = new Set(virtio.map((_, n) => diskName(n)));
  let n = 1;
  while (def.disks.some((d) => d.id === `vol${n}`)) n++;
  const disk: VmDisk = {
    id: `vol${n}`,
    path: volume.path,
    format: volume.format,
    bus: 'virtio',
    readOnly: volume.readOnly,
    boot: false,
    port: freePort(def),
    volumeId: volume.volumeId,
    blockDevice: info.isBlockDevice(),
  };
  const device =
    volume.device !== null && !taken.has(volume.device) ? volume.device : diskName(virtio.length);
  return { def: { ...def, disks: [...def.disks, disk] }, disk, device };
}

/** The definition with `nic` as one more NIC (no host backend yet: as at spawn, until the network service plugs taps). */
export function withNic(def: VmDefinition, nic: NicSpec): { def: VmDefinition; added: VmNic } {
  if (def.nics.some((n) => n.portId === nic.portId))
    throw new VirtError(`port ${nic.portId} is already attached to instance ${def.uuid}`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(nic.mac))
    throw new VirtError(`port ${nic.portId} has no valid MAC address (${nic.mac})`);
  let n = 0;
  while (def.nics.some((x) => x.id === `net${n}`)) n++;
  const added: VmNic = {
    id: `net${n}`,
    mac: nic.mac,
    tap: null,
    port: freePort(def),
    portId: nic.portId,
  };
  return { def: { ...def, nics: [...def.nics, added] }, added };
}

/** The root port a device made by withVolume or withNic sits on. */
function slotOf(d: VmDisk | VmNic): string {
  if (!d.port) throw new VirtError(`device ${d.id} has no hot-plug slot`);
  return d.port;
}

/** Plugs the disk into the running QEMU; on failure nothing of it is left there. */
export async function plugDisk(m: QmpMonitor, disk: VmDisk): Promise<void> {
  try {
    await using undo = new Undo();
    const ro = disk.readOnly;
    const file = `${disk.id}-file`;
    await blockdevAdd(m, {
      driver: disk.blockDevice ? 'host_device' : 'file',
      nodeName: file,
      filename: disk.path,
      readOnly: ro,
    });
    undo.push(`remove block node ${file}`, () => blockdevDel(m, file));
    await blockdevAdd(m, { driver: disk.format, nodeName: disk.id, file, readOnly: ro });
    undo.push(`remove block node ${disk.id}`, () => blockdevDel(m, disk.id));
    await deviceAdd(m, {
      driver: 'virtio-blk-pci',
      id: `${disk.id}-dev`,
      drive: disk.id,
      bus: slotOf(disk),
    });
    undo.keep();
  } catch (e) {
    throw new VirtError(`could not hot-plug ${disk.path} into the guest: ${(e as Error).message}`);
  }
}

export async function plugNic(m: QmpMonitor, nic: VmNic): Promise<void> {
  await deviceAdd(m, {
    driver: 'virtio-net-pci',
    id: `${nic.id}-dev`,
    mac: nic.mac,
    bus: slotOf(nic),
  }).catch((e: Error) => {
    throw new VirtError(`could not hot-plug a NIC into the guest: ${e.message}`);
  });
}

/**
 * Asks the guest to release `device` and waits until QEMU says it is gone. The request is the slot's
 * attention button: a guest still in its firmware or early boot misses it, so it is pressed again
 * every few seconds (QEMU refuses a repeat while the last one is fresh, which is fine).
 */
export async function unplug(m: QmpMonitor, device: string): Promise<void> {
  let off = () => {};
  let done = false;
  const gone = new Promise<void>((ok, fail) => {
    off = m.on((e) => {
      if (e.data?.['device'] === device) {
        done = true;
        ok();
      }
    }, 'DEVICE_DELETED');
    void m.closed.then(() =>
      fail(new VirtError(`QEMU exited while ${device} was being unplugged`)),
    );
  });
  gone.catch(() => {});
  try {
    for (const until = Date.now() + UNPLUG_TIMEOUT_MS; !done && Date.now() < until;) {
      try {
        await deviceDel(m, device);
      } catch (e) {
        if (done) break;
        if (/not found/i.test((e as Error).message)) return;
        if (!/in the process of unplug|already/i.test((e as Error).message))
          throw new VirtError(`could not unplug ${device}: ${(e as Error).message}`);
      }
      await Promise.race([gone, sleep(REPRESS_MS)]);
    }
    if (!done)
      throw new VirtError(
        `the guest did not release device ${device} within ${UNPLUG_TIMEOUT_MS / 1000} s (does its kernel do PCIe hot-plug?); try again, or detach it while the instance is stopped`,
      );
  } finally {
    off();
  }
}

/** After its device is gone: the disk's block nodes go too. */
export async function dropDiskNodes(m: QmpMonitor, disk: VmDisk): Promise<void> {
  await blockdevDel(m, disk.id);
  await blockdevDel(m, `${disk.id}-file`);
}
