// Resize on this host: the instance restarts with the new flavor (its root grown, never shrunk);
// what a revert restores waits in vm.pre-resize.json and disk.pre-resize.qcow2 until a confirm.
import { copyFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { qemuImgInfo, qemuImgResize } from '../../../../host/qemu-img.ts';
import type { VmDefinition } from '../../../../host/qemu/argv.ts';
import { flavorLimits } from './flavor-limits.ts';
import { GiB, type DriverContext } from './driver-context.ts';
import { VirtError, type FlavorSpec } from '../driver.ts';

export async function resize(ctx: DriverContext, uuid: string, flavor: FlavorSpec): Promise<void> {
  const def = await ctx.definition(uuid);
  if (await ctx.has(uuid, 'vm.pre-resize.json'))
    throw new VirtError(`instance ${uuid} has a resize to confirm or revert first`);
  const root = def.disks.find((d) => d.id === 'root');
  if (!root) throw new VirtError(`instance ${uuid} has no root disk to resize`);
  // The new flavor's limits come with it (a revert restores the old definition, limits included).
  const limits = flavorLimits(flavor.extraSpecs);
  await using undo = ctx.undo(uuid);
  await ctx.stopFor(uuid, def, ctx.shutdownSeconds(), undo);
  // What a revert needs: the definition and the root disk as they were (Nova keeps <dir>_resize).
  const before = join(ctx.disks(uuid), 'disk.pre-resize.qcow2');
  undo.push(`remove ${before}`, () => rm(before, { force: true }));
  await copyFile(root.path, before);
  await ctx.save(def, 'vm.pre-resize.json');
  undo.push(`remove ${uuid}'s pre-resize definition`, () =>
    rm(ctx.file(uuid, 'vm.pre-resize.json'), { force: true }),
  );
  const size = (await qemuImgInfo(root.path, root.format)).virtualSize;
  if (flavor.rootGb * GiB > size) {
    undo.push(`restore ${root.path} as it was`, () => copyFile(before, root.path));
    await qemuImgResize(root.path, root.format, flavor.rootGb * GiB);
  }
  const resized: VmDefinition = {
    ...def,
    vcpus: flavor.vcpus,
    memoryMb: flavor.memoryMb,
    cpuLimits: limits.cpu,
    disks: def.disks.map((d) =>
      d.bus === 'virtio' && d.id !== 'rescue' ? { ...d, limits: limits.disk } : d,
    ),
  };
  await ctx.save(resized);
  undo.push(`restore ${uuid}'s definition`, () => ctx.save(def));
  await ctx.start(resized);
  undo.keep();
}

export async function revertResize(ctx: DriverContext, uuid: string): Promise<void> {
  await ctx.definition(uuid);
  if (!(await ctx.has(uuid, 'vm.pre-resize.json')))
    throw new VirtError(`instance ${uuid} has no resize to revert`);
  const old = await ctx.definition(uuid, 'vm.pre-resize.json');
  const root = old.disks.find((d) => d.id === 'root')!;
  await ctx.stop(uuid, ctx.shutdownSeconds());
  await rename(join(ctx.disks(uuid), 'disk.pre-resize.qcow2'), root.path);
  await ctx.save(old);
  await rm(ctx.file(uuid, 'vm.pre-resize.json'), { force: true });
  await ctx.start(old);
}

export async function confirmResize(ctx: DriverContext, uuid: string): Promise<void> {
  await ctx.definition(uuid);
  await rm(join(ctx.disks(uuid), 'disk.pre-resize.qcow2'), { force: true });
  await rm(ctx.file(uuid, 'vm.pre-resize.json'), { force: true });
}
