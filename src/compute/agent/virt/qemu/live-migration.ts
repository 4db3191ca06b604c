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
import type { VmDefinition, VmDisk } from '../../../../host/qemu/argv.ts';
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

/** On the destination QEMU (started with -incoming defer): exports the disks (unless shared storage brings them) and listens for the memory. */
export async function listenForMigration(
  m: QmpMonitor,
  def: VmDefinition,
  address: string,
  opts: { disks: boolean },
): Promise<{ uri: string; disks: string | null }> {
  let disks: string | null = null;
  if (opts.disks) {
    const nbdPort = await freePort(address);
    await m.run('nbd-server-start', {
      addr: { type: 'inet', data: { host: address, port: String(nbdPort) } },
    });
    for (const d of migratedDisks(def))
      await m.run('block-export-add', {
        type: 'nbd',
        id: `mig-${d.id}`,
        'node-name': d.id,
        name: d.id,
        writable: true,
      });
    disks = `nbd:${hostOf(address)}:${nbdPort}`;
  }
  const memPort = await freePort(address);
  await m.run('migrate-incoming', { uri: `tcp:${hostOf(address)}:${memPort}` });
  return { uri: `tcp:${hostOf(address)}:${memPort}`, disks };
}

/** On the destination, once the guest is here (or the migration given up): the NBD server goes. */
export async function stopListening(m: QmpMonitor): Promise<void> {
  await m.run('nbd-server-stop').catch(() => undefined);
}

interface JobInfo {
  readonly device: string;
  readonly ready: boolean;
  readonly status: string;
  readonly error?: string;
}
const jobs = async (m: QmpMonitor) =>
  (await m.run<JobInfo[]>('query-block-jobs')).filter((j) => j.device.startsWith('mig-'));

async function waitFor(what: string, until: number, check: () => Promise<boolean>): Promise<void> {
  for (; Date.now() < until; await sleep(50)) if (await check()) return;
  throw new VirtError(
    `live migration: ${what} did not happen within ${MIGRATION_TIMEOUT_MS / 60_000} minutes`,
  );
}

interface MigrateInfo {
  readonly status?: string;
  readonly 'error-desc'?: string;
}

/**
 * On the source: mirrors the disks to `disks` (an `nbd:host:port` the destination answered), then
 * migrates the memory to `uri`. Resolves once the destination has everything; on failure the
 * mirrors are cancelled and the guest runs on here as before.
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
  const added: string[] = [];
  try {
    for (const d of disks) {
      await m.run('blockdev-add', {
        driver: 'nbd',
        'node-name': `mig-${d.id}-dst`,
        export: d.id,
        server: { type: 'inet', host: nbd![1]!.replace(/^\[|\]$/g, ''), port: nbd![2]! },
      });
      added.push(`mig-${d.id}-dst`);
      // The root's image is on both hosts: only the overlay's own clusters travel. Other disks are whole.
      await m.run('blockdev-mirror', {
        'job-id': `mig-${d.id}`,
        device: d.id,
        target: `mig-${d.id}-dst`,
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
    await m.run('migrate-set-capabilities', {
      capabilities: [
        { capability: 'pause-before-switchover', state: true },
        { capability: 'events', state: true },
      ],
    });
    // Nova's default: no bandwidth cap (QEMU's own default is 32 MiB/s).
    await m.run('migrate-set-parameters', { 'max-bandwidth': 16 * GiB });
    await m.run('migrate', { uri: target.uri });
    let switched = false;
    await waitFor('the memory copy', until, async () => {
      const r = await m.run<MigrateInfo & { ram?: { total?: number; remaining?: number } }>(
        'query-migrate',
      );
      if (r.status === 'failed' || r.status === 'cancelled')
        throw new VirtError(`live migration failed in QEMU: ${r['error-desc'] ?? r.status}`);
      if (r.ram?.total)
        opts.onProgress?.(Math.floor(100 * (1 - (r.ram.remaining ?? 0) / r.ram.total)));
      if (r.status === 'pre-switchover' && !switched) {
        // The guest is stopped here: the disks' last writes go now, before the devices move.
        for (const d of disks) await m.run('block-job-cancel', { device: `mig-${d.id}` });
        await waitFor(
          'completing the disk mirrors',
          until,
          async () => (await jobs(m)).length === 0,
        );
        await m.run('migrate-continue', { state: 'pre-switchover' });
        switched = true;
      }
      return r.status === 'completed';
    });
  } catch (e) {
    await m.run('migrate_cancel').catch(() => undefined);
    for (const j of await jobs(m).catch(() => []))
      await m.run('block-job-cancel', { device: j.device, force: true }).catch(() => undefined);
    await waitFor(
      'cancelling the disk mirrors',
      Date.now() + 30_000,
      async () => (await jobs(m).catch(() => [])).length === 0,
    ).catch(() => undefined);
    for (const n of added) await m.run('blockdev-del', { 'node-name': n }).catch(() => undefined);
    // A migration that failed after the pause leaves the guest stopped; it runs on here.
    const s = await m.run<{ status: string }>('query-status').catch(() => ({ status: 'running' }));
    if (s.status === 'postmigrate' || s.status === 'finish-migrate')
      await m.run('cont').catch(() => undefined);
    throw e instanceof VirtError
      ? e
      : new VirtError(`live migration failed: ${(e as Error).message}`);
  }
}
