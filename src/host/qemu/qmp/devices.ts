// Typed QMP commands for guest devices hot-plugged on a PCIe root port: a virtio disk over a block
// node, or a virtio NIC. device_del only asks: the guest lets go, and QEMU's DEVICE_DELETED event
// says when it has.
import type { QmpMonitor } from './monitor.ts';

export type DeviceOptions =
  | {
      readonly driver: 'virtio-blk-pci';
      readonly id: string;
      /** The block node the disk shows. */
      readonly drive: string;
      /** The PCIe root port it goes on. */
      readonly bus: string;
    }
  | {
      readonly driver: 'virtio-net-pci';
      readonly id: string;
      readonly mac: string;
      readonly bus: string;
    };

export async function deviceAdd(m: QmpMonitor, o: DeviceOptions): Promise<void> {
  await m.run('device_add', { ...o });
}

/** Asks the guest to release device `id` (its slot's attention button). */
export async function deviceDel(m: QmpMonitor, id: string): Promise<void> {
  await m.run('device_del', { id });
}
