// The driver's side of migrations, live and cold: preparing a destination (this host's part made,
// QEMU awaiting the guest), sending from the source, finishing or giving up. The QMP steps that
// move memory and disks between two QEMUs are live-migration.ts's.
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmDefinition } from '../../../../host/qemu/argv.ts';
import type { Undo } from '../../../../host/undo.ts';
import type { DriverContext } from './driver-context.ts';
import { listenForMigration, migrateOut, stopListening } from './live-migration.ts';
import { create, destroy, forget } from './spawn.ts';
import { VirtError, type InstanceSpec, type MigrationTarget } from '../driver.ts';

export async function prepareMigration(
  ctx: DriverContext,
  spec: InstanceSpec,
  opts: { block: boolean | 'auto' },
): Promise<MigrationTarget> {
  // Shared storage, as Nova checks it: the destination sees the disks the source made.
  const shared =
    ctx.shared() &&
    (await stat(join(ctx.disks(spec.uuid), 'disk.qcow2')).then(
      () => true,
      () => false,
    ));
  if (shared && opts.block === true)
    throw new VirtError(
      `instance ${spec.uuid} is on storage this host shares with its source; migrate it without block migration`,
    );
  if (!shared && opts.block === false)
    throw new VirtError(
      `this host does not see the disks of instance ${spec.uuid} (no shared instance storage with its source); migrate it with block migration`,
    );
  // On shared storage the disks are the source's, in use: only this host's part is made here.
  let target: MigrationTarget | undefined;
  await create(
    ctx,
    spec,
    async (def, undo) => {
      target = await awaitIncoming(ctx, def, !shared, undo);
    },
    { disksExist: shared },
  );
  return target!;
}

/** Starts QEMU to wait for the guest (booting nothing), listening for its memory and, with `disks`, its disks. */
async function awaitIncoming(
  ctx: DriverContext,
  def: VmDefinition,
  disks: boolean,
  undo: Undo,
): Promise<MigrationTarget> {
  // Autostarts once the guest is here if it ran on the source.
  await ctx.start({ ...def, incoming: 'defer' }, undo);
  const t = await listenForMigration(
    (await ctx.qmp(def.uuid)).monitor,
    def,
    ctx.o.migrationAddress ?? '127.0.0.1',
    { disks },
    undo,
  );
  const incoming = ctx.file(def.uuid, 'incoming');
  undo.push(`remove ${incoming}`, () => rm(incoming, { force: true }));
  await writeFile(incoming, `${JSON.stringify(t)}\n`);
  return t;
}

/** What a migration refuses: states it cannot carry, and devices the destination would not make from the spec. */
async function movable(ctx: DriverContext, uuid: string, what: string): Promise<VmDefinition> {
  const def = await ctx.definition(uuid);
  if ((await ctx.has(uuid, 'vm.normal.json')) || (await ctx.has(uuid, 'vm.pre-resize.json')))
    throw new VirtError(`cannot ${what} instance ${uuid} while it is rescued or resized`);
  if (def.disks.some((d) => d.volumeId !== undefined) || def.nics.some((n) => n.port)) {
    throw new VirtError(
      `cannot ${what} instance ${uuid} with hot-plugged volumes or interfaces yet; detach them first`,
    );
  }
  return def;
}

export async function migrate(
  ctx: DriverContext,
  uuid: string,
  target: MigrationTarget,
): Promise<void> {
  const def = await movable(ctx, uuid, 'live-migrate');
  const { monitor, qmp } = await ctx.qmp(uuid);
  const s = await qmp.status();
  if (s !== 'running' && s !== 'paused')
    throw new VirtError(`cannot live-migrate instance ${uuid}: it is ${s}`);
  await migrateOut(monitor, def, target);
  // The guest lives on the destination now: what was here goes (its disks too, unless they are shared and in use there).
  ctx.monitors.expectExit(uuid);
  await (target.disks === null ? forget(ctx, uuid) : destroy(ctx, uuid));
}

export async function sendDisks(
  ctx: DriverContext,
  uuid: string,
  target: MigrationTarget,
): Promise<void> {
  const def = await movable(ctx, uuid, 'migrate');
  {
    await using undo = ctx.undo(uuid);
    await ctx.stopFor(uuid, def, ctx.shutdownSeconds(), undo);
    // A QEMU whose vCPUs never run carries the disks the way a live migration does (the root's
    // own clusters only); the guest's state it sends is that of a machine not yet started.
    await ctx.start({ ...def, paused: true }, undo);
    await migrateOut((await ctx.qmp(uuid)).monitor, def, target);
    undo.keep();
  }
  await ctx.stop(uuid, 0);
}

export async function finishMigration(
  ctx: DriverContext,
  uuid: string,
  ok: boolean,
): Promise<void> {
  // Given up: what was made here goes; shared disks stay with the source.
  if (!ok) {
    await forget(ctx, uuid);
    return;
  }
  if (!(await ctx.has(uuid, 'incoming')))
    throw new VirtError(`instance ${uuid} was not prepared for a migration here`);
  await ctx.migrationDone(uuid, 60_000);
  const { monitor, qmp } = await ctx.qmp(uuid);
  await stopListening(monitor);
  await rm(ctx.file(uuid, 'incoming'), { force: true });
  // A machine never started (sendDisks) arrives in prelaunch: it is shut down here as it was there.
  if ((await qmp.status()) === 'prelaunch') await ctx.stop(uuid, 0);
}
