// What an instance is on its host's disk, as a VM definition (argv.ts renders it): the root disk, an
// overlay on the cached image at the flavor's size; ephemeral (ext4, label ephemeral0) and swap
// disks from the flavor; the config drive; CPUs, memory and the flavor's limits. A destination on
// shared storage finds the disks another host made and only describes them.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { qemuImgCreate } from '../../../../host/qemu-img.ts';
import { makeEphemeralDisk, makeSwapDisk } from '../../../../host/blank-disks.ts';
import { buildConfigDrive } from '../../../../host/config-drive.ts';
import type { VmDefinition, VmDisk } from '../../../../host/qemu/argv.ts';
import type { Undo } from '../../../../host/undo.ts';
import type { InstanceSpec } from '../driver.ts';
import type { ImageCache } from './image-cache.ts';
import type { flavorLimits } from './flavor-limits.ts';

const GiB = 2 ** 30;

export interface DefineOptions {
  /** The instance's own directory on this host (sockets, pidfile, console log). */
  readonly dir: string;
  /** Where its disks are made (or are, on shared storage). */
  readonly disksDir: string;
  readonly accel: 'kvm' | 'tcg';
  readonly limits: ReturnType<typeof flavorLimits>;
  /** The image cache the root overlay is made on; null: the disks exist already (made by another host). */
  readonly cache: ImageCache | null;
  /** Where the removal of each disk made is pushed (before it is made: a half-made file goes too). */
  readonly undo: Undo;
}

/** The instance's definition, its disks made in `disksDir` (or, without a cache, those already there). */
export async function defineInstance(spec: InstanceSpec, o: DefineOptions): Promise<VmDefinition> {
  const { disksDir, limits } = o;
  const make = o.cache !== null;
  const made = (path: string) => o.undo.push(`remove ${path}`, () => rm(path, { force: true }));
  const root = join(disksDir, 'disk.qcow2');
  if (o.cache) {
    const base = await o.cache.ensure(spec.image);
    made(root);
    // The overlay is the flavor's root size, or the image's when the flavor says 0 (or is smaller).
    await qemuImgCreate(root, 'qcow2', Math.max(spec.flavor.rootGb * GiB, base.virtualSize), {
      backing: base.path,
      backingFormat: base.format,
    });
  }
  const disks: VmDisk[] = [
    {
      id: 'root',
      path: root,
      format: 'qcow2',
      bus: 'virtio',
      readOnly: false,
      boot: true,
      limits: limits.disk,
    },
  ];
  if (spec.flavor.ephemeralGb > 0) {
    const eph = join(disksDir, 'disk.eph0.raw');
    if (make) made(eph);
    if (make) await makeEphemeralDisk(eph, spec.flavor.ephemeralGb * GiB);
    disks.push({
      id: 'eph0',
      path: eph,
      format: 'raw',
      bus: 'virtio',
      readOnly: false,
      boot: false,
      limits: limits.disk,
    });
  }
  if (spec.flavor.swapMb > 0) {
    const swap = join(disksDir, 'disk.swap.raw');
    if (make) made(swap);
    if (make) await makeSwapDisk(swap, spec.flavor.swapMb * 2 ** 20);
    disks.push({
      id: 'swap',
      path: swap,
      format: 'raw',
      bus: 'virtio',
      readOnly: false,
      boot: false,
      limits: limits.disk,
    });
  }
  // No metadata service yet: every guest gets a config drive (Nova's force_config_drive).
  const iso = join(disksDir, 'config.iso');
  if (make) {
    made(iso);
    await buildConfigDrive(iso, {
      uuid: spec.uuid,
      name: spec.name,
      hostname: spec.hostname,
      projectId: '',
      availabilityZone: null,
      launchIndex: 0,
      publicKeys: spec.metadata.publicKeys,
      meta: spec.metadata.meta,
      userData: spec.metadata.userData,
    });
  }
  disks.push({ id: 'config', path: iso, format: 'raw', bus: 'cdrom', readOnly: true, boot: false });
  return {
    name: spec.name.replace(/[^\w.-]/g, '-').slice(0, 60) || spec.uuid,
    uuid: spec.uuid,
    accel: o.accel,
    vcpus: spec.flavor.vcpus,
    memoryMb: spec.flavor.memoryMb,
    dir: o.dir,
    disks,
    nics: spec.nics.map((n, i) => ({ id: `net${i}`, mac: n.mac, tap: null })),
    direct: null,
    hotplugPorts: 4,
    paused: false,
    incoming: null,
    cpuLimits: limits.cpu,
  };
}
