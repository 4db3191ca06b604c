// Rescue and unrescue: the instance boots a rescue image first, its own disks after it; its usual
// definition waits in vm.normal.json and comes back on unrescue.
import { rm } from 'node:fs/promises';
import { qemuImgCreate } from '../../../../host/qemu-img.ts';
import type { VmDefinition } from '../../../../host/qemu/argv.ts';
import type { DriverContext } from './driver-context.ts';
import { VirtError, type ImageSpec } from '../driver.ts';

export async function rescue(ctx: DriverContext, uuid: string, image: ImageSpec): Promise<void> {
  const def = await ctx.definition(uuid);
  if (await ctx.has(uuid, 'vm.normal.json'))
    throw new VirtError(`instance ${uuid} is already rescued`);
  await using undo = ctx.undo(uuid);
  const base = await ctx.cache.ensure(image);
  const disk = ctx.file(uuid, 'disk.rescue.qcow2');
  await rm(disk, { force: true });
  undo.push(`remove ${disk}`, () => rm(disk, { force: true }));
  await qemuImgCreate(disk, 'qcow2', base.virtualSize, {
    backing: base.path,
    backingFormat: base.format,
  });
  await ctx.stopFor(uuid, def, ctx.shutdownSeconds(), undo);
  // The rescue system boots first; the instance's own disks follow it (its root as the second disk).
  const rescued: VmDefinition = {
    ...def,
    disks: [
      { id: 'rescue', path: disk, format: 'qcow2', bus: 'virtio', readOnly: false, boot: true },
      ...def.disks.map((d) => ({ ...d, boot: false })),
    ],
  };
  await ctx.save(def, 'vm.normal.json');
  undo.push(`remove ${uuid}'s saved definition`, () =>
    rm(ctx.file(uuid, 'vm.normal.json'), { force: true }),
  );
  await ctx.save(rescued);
  undo.push(`restore ${uuid}'s definition`, () => ctx.save(def));
  await ctx.start(rescued);
  undo.keep();
  // A suspended guest's saved memory is of a machine rescue does not resume: it goes once rescued.
  await rm(ctx.file(uuid, 'memory.state'), { force: true });
}

export async function unrescue(ctx: DriverContext, uuid: string): Promise<void> {
  await ctx.definition(uuid);
  if (!(await ctx.has(uuid, 'vm.normal.json')))
    throw new VirtError(`instance ${uuid} is not rescued`);
  const normal = await ctx.definition(uuid, 'vm.normal.json');
  await ctx.stop(uuid, 0);
  await ctx.save(normal);
  await rm(ctx.file(uuid, 'vm.normal.json'), { force: true });
  await rm(ctx.file(uuid, 'disk.rescue.qcow2'), { force: true });
  await ctx.start(normal);
}
