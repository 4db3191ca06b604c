// Making an instance on this host (its directory, disks and definition, then its QEMU) with an undo
// per step, and taking it away again: destroy (its disks too) and forget (what is this host's only).
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { vmFiles, type VmDefinition } from '../../../../host/qemu/argv.ts';
import { killQemu } from '../../../../host/qemu/process.ts';
import { removeCgroup } from '../../../../host/cgroups.ts';
import type { Undo } from '../../../../host/undo.ts';
import { defineInstance } from './instance-definition.ts';
import { flavorLimits } from './flavor-limits.ts';
import type { DriverContext } from './driver-context.ts';
import { VirtError, type InstanceSpec } from '../driver.ts';

/**
 * Makes the instance here and starts it with `start`; on any failure leaves nothing behind: each
 * step pushes its undo, and only success keeps them. With `disksExist` its disks are another
 * host's on shared storage: they are used, never made or removed.
 */
export async function create(
  ctx: DriverContext,
  spec: InstanceSpec,
  start: (def: VmDefinition, undo: Undo) => Promise<void>,
  opts: { disksExist?: boolean } = {},
): Promise<void> {
  const dir = ctx.dir(spec.uuid);
  if (await ctx.has(spec.uuid, 'vm.json'))
    throw new VirtError(`instance ${spec.uuid} already exists on this host`);
  // Bad extra specs fail here, before anything is made, and would fail on any host.
  const limits = flavorLimits(spec.flavor.extraSpecs);
  const disksDir = ctx.disks(spec.uuid);
  const makeDisks = !opts.disksExist;
  try {
    await using undo = ctx.undo(spec.uuid);
    await mkdir(join(ctx.o.stateDir, 'instances'), { recursive: true, mode: 0o700 });
    if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) {
      undo.push(`remove ${dir}`, async () => {
        // What QEMU wrote there (pidfile, sockets, console log); all else went with its own undo.
        for (const f of Object.values(vmFiles(dir))) await rm(f, { force: true });
        await rmdir(dir);
      });
    }
    if (makeDisks && disksDir !== dir) {
      await mkdir(dirname(disksDir), { recursive: true, mode: 0o700 });
      // On shared storage: emptied by the disks' own undos, then removed (never with what it holds).
      if ((await mkdir(disksDir, { recursive: true, mode: 0o700 })) !== undefined)
        undo.push(`remove ${disksDir}`, () => rmdir(disksDir));
    }
    const def = await defineInstance(spec, {
      dir,
      disksDir,
      accel: ctx.o.accel,
      limits,
      cache: makeDisks ? ctx.cache : null,
      undo,
    });
    await ctx.save(def);
    undo.push(`remove ${spec.uuid}'s definition`, () =>
      rm(ctx.file(spec.uuid, 'vm.json'), { force: true }),
    );
    await start(def, undo);
    undo.keep();
  } catch (e) {
    throw e instanceof VirtError
      ? e
      : new VirtError(`could not start instance ${spec.uuid}: ${(e as Error).message}`, {
          retryable: true,
        });
  }
}

export async function spawn(ctx: DriverContext, spec: InstanceSpec): Promise<void> {
  await create(ctx, spec, (def, undo) => ctx.start(def, undo));
}

export async function destroy(ctx: DriverContext, uuid: string): Promise<void> {
  await forget(ctx, uuid);
  await rm(ctx.disks(uuid), { recursive: true, force: true });
}

export async function forget(ctx: DriverContext, uuid: string): Promise<void> {
  const dir = ctx.dir(uuid);
  ctx.monitors.forget(uuid);
  await killQemu(dir);
  await rm(dir, { recursive: true, force: true });
  const layout = await ctx.cgroups;
  if (layout) await removeCgroup(layout, uuid).catch(() => undefined);
  // Disks on this host's own storage are nobody else's: they go with the instance.
  if (!ctx.shared()) await rm(ctx.disks(uuid), { recursive: true, force: true });
}
