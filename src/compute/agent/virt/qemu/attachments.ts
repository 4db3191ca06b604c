// Attaching and detaching interfaces and volumes: the saved definition changes, and a running guest
// gets or loses the device at once (hotplug.ts); not while rescued or suspended.
import { qemuPid } from '../../../../host/qemu/process.ts';
import type { VmDefinition } from '../../../../host/qemu/argv.ts';
import type { DriverContext } from './driver-context.ts';
import { dropDiskNodes, plugDisk, plugNic, unplug, withNic, withVolume } from './hotplug.ts';
import { VirtError, type NicSpec, type VolumeSpec } from '../driver.ts';

/** The definition a hot-plug changes: not while rescued (the rescue definition is thrown away) or suspended (the saved devices must match). */
async function pluggable(ctx: DriverContext, uuid: string, what: string): Promise<VmDefinition> {
  const def = await ctx.definition(uuid);
  if (await ctx.has(uuid, 'vm.normal.json'))
    throw new VirtError(`cannot ${what} instance ${uuid} while it is rescued`);
  if (await ctx.has(uuid, 'memory.state'))
    throw new VirtError(`cannot ${what} instance ${uuid} while it is suspended; resume it first`);
  return def;
}

export async function attachInterface(
  ctx: DriverContext,
  uuid: string,
  nic: NicSpec,
): Promise<void> {
  const { def, added } = withNic(await pluggable(ctx, uuid, 'attach an interface to'), nic);
  await using undo = ctx.undo(uuid);
  if (qemuPid(def.dir) !== null) {
    const { monitor } = await ctx.qmp(uuid);
    await plugNic(monitor, added);
    undo.push(`unplug ${added.id} from ${uuid}`, () => unplug(monitor, `${added.id}-dev`));
  }
  await ctx.save(def);
  undo.keep();
}

export async function detachInterface(
  ctx: DriverContext,
  uuid: string,
  portId: string,
): Promise<void> {
  const def = await pluggable(ctx, uuid, 'detach an interface from');
  const nic = def.nics.find((n) => n.portId === portId);
  if (!nic) throw new VirtError(`port ${portId} is not attached to instance ${uuid}`);
  if (qemuPid(def.dir) !== null) await unplug((await ctx.qmp(uuid)).monitor, `${nic.id}-dev`);
  await ctx.save({ ...def, nics: def.nics.filter((n) => n !== nic) });
}

export async function attachVolume(
  ctx: DriverContext,
  uuid: string,
  volume: VolumeSpec,
): Promise<{ device: string }> {
  const { def, disk, device } = await withVolume(
    await pluggable(ctx, uuid, 'attach a volume to'),
    volume,
  );
  await using undo = ctx.undo(uuid);
  if (qemuPid(def.dir) !== null) {
    const { monitor } = await ctx.qmp(uuid);
    await plugDisk(monitor, disk);
    undo.push(`unplug ${disk.id} from ${uuid}`, async () => {
      await unplug(monitor, `${disk.id}-dev`);
      await dropDiskNodes(monitor, disk);
    });
  }
  await ctx.save(def);
  undo.keep();
  return { device };
}

export async function detachVolume(
  ctx: DriverContext,
  uuid: string,
  volumeId: string,
): Promise<void> {
  const def = await pluggable(ctx, uuid, 'detach a volume from');
  const disk = def.disks.find((d) => d.volumeId === volumeId);
  if (!disk) throw new VirtError(`volume ${volumeId} is not attached to instance ${uuid}`);
  if (qemuPid(def.dir) !== null) {
    const { monitor } = await ctx.qmp(uuid);
    await unplug(monitor, `${disk.id}-dev`);
    await dropDiskNodes(monitor, disk);
  }
  await ctx.save({ ...def, disks: def.disks.filter((d) => d !== disk) });
}
