// Suspend and resume: the guest's memory goes to memory.state in its directory (a migration to a
// local socket the driver writes out) and QEMU stops; a resume starts QEMU waiting for it and feeds
// it back.
import { rm } from 'node:fs/promises';
import { qemuPid } from '../../../../host/qemu/process.ts';
import {
  migrate,
  migrateIncoming,
  migrateSetMaxBandwidth,
} from '../../../../host/qemu/qmp/migration.ts';
import { GiB, type DriverContext } from './driver-context.ts';
import { receiveToFile, sendFileTo } from './state-file.ts';
import { VirtError } from '../driver.ts';

export async function suspend(ctx: DriverContext, uuid: string): Promise<void> {
  await ctx.definition(uuid);
  const { monitor, qmp } = await ctx.qmp(uuid);
  const state = ctx.file(uuid, 'memory.state');
  try {
    await using undo = ctx.undo(uuid);
    // Undone last: the guest stays where it was, running.
    undo.push(`run ${uuid} again`, async () => {
      if ((await qmp.status()) !== 'running') await qmp.cont();
    });
    undo.push(`remove ${state}`, () => rm(state, { force: true }));
    undo.push(`remove ${state}.partial`, () => rm(`${state}.partial`, { force: true }));
    const end = await receiveToFile(ctx.file(uuid, 'mig.sock'), state);
    // Closed whether the suspend works or not: it serves one stream.
    await using _listener = { [Symbol.asyncDispose]: () => end.close() };
    // Memory to a local file: no reason to hold QEMU to its default network bandwidth.
    await migrateSetMaxBandwidth(monitor, 16 * GiB);
    await migrate(monitor, end.uri);
    await ctx.migrationDone(uuid, 10 * 60_000);
    await end.done;
    undo.keep();
  } catch (e) {
    throw e instanceof VirtError
      ? e
      : new VirtError(`could not suspend instance ${uuid}: ${(e as Error).message}`);
  }
  await ctx.stop(uuid, 0);
}

/** How a write ends when the reader closed its end first. */
const CUT_OFF = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'EPIPE', 'ECONNRESET']);

export async function resume(ctx: DriverContext, uuid: string): Promise<void> {
  const def = await ctx.definition(uuid);
  const state = ctx.file(uuid, 'memory.state');
  if (!(await ctx.has(uuid, 'memory.state')))
    throw new VirtError(`cannot resume instance ${uuid}: it is not suspended`);
  if (qemuPid(def.dir) !== null)
    throw new VirtError(`cannot resume instance ${uuid}: it is running`);
  const sock = ctx.file(uuid, 'mig.sock');
  await rm(sock, { force: true });
  try {
    // The saved memory stays until the guest runs from it, so a resume can be tried again.
    await using undo = ctx.undo(uuid);
    undo.push(`remove ${sock}`, () => rm(sock, { force: true }));
    await ctx.start({ ...def, incoming: 'defer' }, undo);
    const { monitor, qmp } = await ctx.qmp(uuid);
    // The incoming QEMU listens; the driver connects and feeds it the saved memory.
    await migrateIncoming(monitor, `unix:${sock}`);
    await sendFileTo(sock, state).catch((e: NodeJS.ErrnoException) => {
      // QEMU closes its end once it has read the whole stream, which on a busy host can come
      // before our last write is acknowledged: the migration's own status below says whether it
      // got everything. Anything else (it never listened) is a failure of its own.
      if (!CUT_OFF.has(e.code ?? '')) throw e;
    });
    await ctx.migrationDone(uuid, 10 * 60_000);
    if ((await qmp.status()) !== 'running') await qmp.cont();
    undo.keep();
  } catch (e) {
    throw e instanceof VirtError
      ? e
      : new VirtError(`could not resume instance ${uuid}: ${(e as Error).message}`);
  } finally {
    await rm(sock, { force: true });
  }
  await rm(state, { force: true });
}
