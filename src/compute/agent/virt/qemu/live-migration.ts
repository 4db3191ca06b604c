// Live migration between two QEMU hosts, after what libvirt does for Nova's block migration:
//   destination  QEMU started with `-incoming defer` and the instance's disks made empty (the root
//                an overlay on the same cached image); an NBD server exports those disks, and the
//                migration stream is awaited on a TCP port.
//   source       mirrors each writable disk into its NBD export (the root's own clusters only, its
//                image being on both hosts), and once the mirrors are in step migrates the memory
//                with `pause-before-switchover`: at that pause the guest is stopped, the mirrors are
//                completed (their last writes flushed), and only then is the device state sent, so
//                the destination never runs on a disk still being written.
// The destination starts the guest by itself when the source's was running (QEMU's autostart),
// paused when it was paused. Migration traffic is plain TCP on the management network, as
// Nova's default without native TLS.
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpMonitor } from '../../../../host/qemu/qmp/monitor.ts';
import { qmpCommands } from '../../../../host/qemu/qmp/commands.ts';
import {
  blockdevAdd,
  blockdevDel,
  blockdevMirror,
  blockExportAdd,
  blockJobCancel,
  nbdServerStart,
  nbdServerStop,
  queryBlockJobs,
} from '../../../../host/qemu/qmp/block.ts';
import {
  migrate,
  migrateCancel,
  migrateContinue,
  migrateIncoming,
  migrateSetCapabilities,
  migrateSetMaxBandwidth,
  queryMigrate,
} from '../../../../host/qemu/qmp/migration.ts';
import type { VmDefinition, VmDisk } from '../../../../host/qemu/argv.ts';
import { Undo } from '../../../../host/undo.ts';
import { VirtError } from '../driver.ts';

/** How long one migration may take end to end before it is cancelled (memory and disks). */
const MIGRATION_TIMEOUT_MS = 30 * 60_000;
const GiB = 2 ** 30;

/** The disks whose bytes travel with the guest: everything it writes (a config drive is made again on the destination). */
export const migratedDisks = (def: VmDefinition): VmDisk[] =>
  def.disks.filter((d) => d.bus === 'virtio' && !d.readOnly);

/** A TCP port free on `host` right now, for QEMU to listen on (it cannot tell which port it took for NBD). */
export async function freePort(host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? ok(a.port) : fail(new Error('no port'))));
    });
  });
}

const hostOf = (h: string) => (h.includes(':') ? `[${h}]` : h);

/**
 * On the destination QEMU (started with -incoming defer): exports the disks (unless shared storage
 * brings them) and listens for the memory. What it starts is pushed on `undo`.
 */
export async function listenForMigration(
  m: QmpMonitor,
  def: VmDefinition,
  address: string,
  opts: { disks: boolean },
  undo: Undo,
): Promise<{ uri: string; disks: string | null }> {
  let disks: string | null = null;
  if (opts.disks) {
    const nbdPort = await freePort(address);
    await nbdServerStart(m, address, nbdPort);
    // Its exports go with the server.
    undo.push('stop the NBD server', () => nbdServerStop(m));
    for (const d of migratedDisks(def))
      await blockExportAdd(m, { id: `mig-${d.id}`, nodeName: d.id, name: d.id, writable: true });
    disks = `nbd:${hostOf(address)}:${nbdPort}`;
  }
  const memPort = await freePort(address);
  await migrateIncoming(m, `tcp:${hostOf(address)}:${memPort}`);
  return { uri: `tcp:${hostOf(address)}:${memPort}`, disks };
}

/** On the destination, once the guest is here (or the migration given up): the NBD server goes. */
export async function stopListening(m: QmpMonitor): Promise<void> {
  await nbdServerStop(m).catch(() => undefined);
}

const jobs = async (m: QmpMonitor) =>
  (await queryBlockJobs(m)).filter((j) => j.device.startsWith('mig-'));

async function waitFor(what: string, until: number, check: () => Promise<boolean>): Promise<void> {
  for (; Date.now() < until; await sleep(50)) if (await check()) return;
  throw new VirtError(
    `live migration: ${what} did not happen within ${MIGRATION_TIMEOUT_MS / 60_000} minutes`,
  );
}

/**
 * On the source: mirrors the disks to `disks` (an `nbd:host:port` the destination answered), then
 * migrates the memory to `uri`. Resolves once the destination has everything; on failure each step
 * is undone (the migration cancelled, the mirrors stopped, their targets removed) and the guest runs
 * on here as before.
 */
export async function migrateOut(
  m: QmpMonitor,
  def: VmDefinition,
  target: { uri: string; disks: string | null },
  opts: { onProgress?: (percent: number) => void } = {},
): Promise<void> {
  const until = Date.now() + MIGRATION_TIMEOUT_MS;
  const disks = target.disks === null ? [] : migratedDisks(def);
  const nbd = target.disks === null ? null : /^nbd:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target.disks);
  if (target.disks !== null && !nbd)
    throw new VirtError(`live migration: ${target.disks} is not an NBD address`);
  try {
    await using undo = new Undo();
    // Undone last: a migration that failed after the pause left the guest stopped; it runs on here.
    undo.push('run the guest on here', async () => {
      const qmp = qmpCommands(m);
      const s = await qmp.status();
      if (s === 'postmigrate' || s === 'finish-migrate') await qmp.cont();
    });
    for (const d of disks) {
      const node = `mig-${d.id}-dst`;
      const job = `mig-${d.id}`;
      await blockdevAdd(m, {
        driver: 'nbd',
        nodeName: node,
        export: d.id,
        host: nbd![1]!.replace(/^\[|\]$/g, ''),
        port: nbd![2]!,
      });
      undo.push(`remove block node ${node}`, () => blockdevDel(m, node));
      // The root's image is on both hosts: only the overlay's own clusters travel. Other disks are whole.
      undo.push(`stop mirror ${job}`, () => stopJob(m, job));
      await blockdevMirror(m, {
        jobId: job,
        device: d.id,
        target: node,
        sync: d.id === 'root' ? 'top' : 'full',
      });
    }
    await waitFor('mirroring the disks', until, async () => {
      const js = await jobs(m);
      const failed = js.find((j) => j.error !== undefined || j.status === 'concluded');
      if (failed)
        throw new VirtError(
          `live migration: mirroring disk ${failed.device.slice(4)} failed: ${failed.error ?? failed.status}`,
        );
      return js.length === disks.length && js.every((j) => j.ready);
    });
    await migrateSetCapabilities(m, { 'pause-before-switchover': true, events: true });
    // Nova's default: no bandwidth cap (QEMU's own default is 32 MiB/s).
    await migrateSetMaxBandwidth(m, 16 * GiB);
    undo.push('cancel the migration', () => migrateCancel(m));
    await migrate(m, target.uri);
    let switched = false;
    await waitFor('the memory copy', until, async () => {
      const r = await queryMigrate(m);
      if (r.status === 'failed' || r.status === 'cancelled')
        throw new VirtError(`live migration failed in QEMU: ${r.errorDesc ?? r.status}`);
      if (r.ram?.total) opts.onProgress?.(Math.floor(100 * (1 - r.ram.remaining / r.ram.total)));
      if (r.status === 'pre-switchover' && !switched) {
        // The guest is stopped here: the disks' last writes go now, before the devices move.
        for (const d of disks) await blockJobCancel(m, `mig-${d.id}`);
        await waitFor(
          'completing the disk mirrors',
          until,
          async () => (await jobs(m)).length === 0,
        );
        await migrateContinue(m);
        switched = true;
      }
      return r.status === 'completed';
    });
    undo.keep();
  } catch (e) {
    throw e instanceof VirtError
      ? e
      : new VirtError(`live migration failed: ${(e as Error).message}`);
  }
}

/** Stops a mirror job at once (if it still runs) and waits until QEMU has let it go (up to 30 s). */
async function stopJob(m: QmpMonitor, job: string): Promise<void> {
  const present = async () => (await queryBlockJobs(m)).some((j) => j.device === job);
  if (!(await present())) return;
  await blockJobCancel(m, job, true).catch(() => undefined);
  for (const until = Date.now() + 30_000; Date.now() < until; await sleep(50))
    if (!(await present())) return;
  throw new VirtError(`the disk mirror ${job} did not stop within 30 s`);
}
