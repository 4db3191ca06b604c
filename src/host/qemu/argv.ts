// A VM as typed data, rendered whole into QEMU's command line: q35 with spare PCIe root ports for
// hot-plug, the accelerator, CPUs and memory, disks, NICs on taps, the serial console to a log file,
// QMP and VNC on UNIX sockets in the instance's directory (nothing listens on the network), and
// daemonized with a pidfile so the VM outlives the agent that started it.
import { join } from 'node:path';
import type { CpuLimits } from '../cgroups.ts';

/** Bandwidth (bytes/s) and IOPS caps of one disk; absent fields are unlimited. */
export interface DiskLimits {
  readonly bpsRead?: number;
  readonly bpsWrite?: number;
  readonly bpsTotal?: number;
  readonly iopsRead?: number;
  readonly iopsWrite?: number;
  readonly iopsTotal?: number;
}

export interface VmDisk {
  /** The id the disk's drive and device carry (for hot-unplug and block jobs). */
  readonly id: string;
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  /** virtio-blk, or a CD-ROM on the q35 AHCI bus (a config drive for guests that look there). */
  readonly bus: 'virtio' | 'cdrom';
  readonly readOnly: boolean;
  /** Boot from it (bootindex 0); with direct kernel boot, QEMU's loader boots first regardless. */
  readonly boot: boolean;
  /** I/O caps, through a throttle group of the disk's own; absent or null: none. */
  readonly limits?: DiskLimits | null;
  /** A hot-plugged disk: the PCIe root port (hpN) it sits on, kept on later starts so the guest sees the same slot. */
  readonly port?: string | null;
  /** A hot-plugged volume: its id in the volume service. */
  readonly volumeId?: string;
  /** A block device rather than an image file (a volume connected from a host device). */
  readonly blockDevice?: boolean;
}

export interface VmNic {
  readonly id: string;
  readonly mac: string;
  /** The host's tap device; null puts a NIC with nothing behind it (no network service yet). */
  readonly tap: string | null;
  /** A hot-plugged NIC: the PCIe root port (hpN) it sits on. */
  readonly port?: string | null;
  /** The network service's port this NIC is. */
  readonly portId?: string;
}

export interface VmDefinition {
  readonly name: string;
  readonly uuid: string;
  readonly accel: 'kvm' | 'tcg';
  readonly vcpus: number;
  readonly memoryMb: number;
  /** The instance's directory: qmp.sock, vnc.sock, serial.log and qemu.pid live there. */
  readonly dir: string;
  readonly disks: readonly VmDisk[];
  readonly nics: readonly VmNic[];
  /** Kernel, initramfs and command line for a direct boot (images with kernel_id/ramdisk_id). */
  readonly direct: {
    readonly kernel: string;
    readonly initrd: string;
    readonly cmdline: string;
  } | null;
  /** Empty PCIe root ports for later hot-plug (q35 cannot add ports at run time). */
  readonly hotplugPorts: number;
  /** Start with the vCPUs stopped (an incoming migration, or a start the caller wants to control). */
  readonly paused: boolean;
  /** Wait for a migration stream on this URI instead of booting. */
  readonly incoming: string | null;
  /** CPU time caps, applied to the QEMU process's cgroup once it runs (not part of the argv). */
  readonly cpuLimits?: CpuLimits | null;
}

export const vmFiles = (dir: string) => ({
  qmp: join(dir, 'qmp.sock'),
  vnc: join(dir, 'vnc.sock'),
  serial: join(dir, 'serial.log'),
  pid: join(dir, 'qemu.pid'),
});

/** QEMU option values escape a comma by doubling it. */
const v = (s: string) => s.replaceAll(',', ',,');

export function renderArgv(d: VmDefinition): string[] {
  const f = vmFiles(d.dir);
  const args = [
    '-name',
    `guest=${v(d.name)},debug-threads=on`,
    '-uuid',
    d.uuid,
    '-machine',
    `q35,accel=${d.accel}`,
    '-cpu',
    d.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(d.vcpus),
    '-m',
    `${d.memoryMb}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-chardev',
    `file,id=serial0,path=${v(f.serial)},append=on`,
    '-serial',
    'chardev:serial0',
    '-qmp',
    `unix:${v(f.qmp)},server=on,wait=off`,
    '-vnc',
    `unix:${v(f.vnc)}`,
    // A screen for the VNC console: without a display device it shows only QEMU's "no graphic
    // display device" (-nodefaults gives none). Standard VGA: SeaBIOS and guest kernels drive it.
    '-device',
    'VGA,id=video0',
    '-device',
    'virtio-balloon-pci,id=balloon0',
    '-daemonize',
    '-pidfile',
    f.pid,
  ];
  for (let i = 1; i <= d.hotplugPorts; i++)
    args.push('-device', `pcie-root-port,id=hp${i},bus=pcie.0,chassis=${i}`);
  for (const disk of d.disks) {
    const ro = disk.readOnly || disk.bus === 'cdrom' ? ',read-only=on' : '';
    args.push(
      '-blockdev',
      `driver=${disk.blockDevice ? 'host_device' : 'file'},node-name=${disk.id}-file,filename=${v(disk.path)}${ro}`,
      '-blockdev',
      `driver=${disk.format},node-name=${disk.id},file=${disk.id}-file${ro}`,
    );
    let drive = disk.id;
    if (disk.limits) {
      // The guest's I/O passes a throttle filter node whose group holds the caps.
      const l = disk.limits;
      const caps = (
        [
          ['bps-read', l.bpsRead],
          ['bps-write', l.bpsWrite],
          ['bps-total', l.bpsTotal],
          ['iops-read', l.iopsRead],
          ['iops-write', l.iopsWrite],
          ['iops-total', l.iopsTotal],
        ] as const
      )
        .filter(([, n]) => n !== undefined)
        .map(([k, n]) => `,x-${k}=${n}`)
        .join('');
      args.push(
        '-object',
        `throttle-group,id=${disk.id}-tg${caps}`,
        '-blockdev',
        `driver=throttle,node-name=${disk.id}-thr,throttle-group=${disk.id}-tg,file=${disk.id}${ro}`,
      );
      drive = `${disk.id}-thr`;
    }
    const boot = disk.boot && d.direct === null ? ',bootindex=0' : '';
    const slot = disk.port ? `,bus=${disk.port}` : '';
    args.push(
      '-device',
      disk.bus === 'virtio'
        ? `virtio-blk-pci,id=${disk.id}-dev,drive=${drive}${boot}${slot}`
        : `ide-cd,id=${disk.id}-dev,drive=${drive}${boot}`,
    );
  }
  for (const nic of d.nics) {
    const slot = nic.port ? `,bus=${nic.port}` : '';
    if (nic.tap !== null)
      args.push(
        '-netdev',
        `tap,id=${nic.id},ifname=${v(nic.tap)},script=no,downscript=no`,
        '-device',
        `virtio-net-pci,id=${nic.id}-dev,netdev=${nic.id},mac=${nic.mac}${slot}`,
      );
    else args.push('-device', `virtio-net-pci,id=${nic.id}-dev,mac=${nic.mac}${slot}`);
  }
  if (d.direct)
    args.push('-kernel', d.direct.kernel, '-initrd', d.direct.initrd, '-append', d.direct.cmdline);
  if (d.paused) args.push('-S');
  if (d.incoming !== null) args.push('-incoming', d.incoming);
  return args;
}
