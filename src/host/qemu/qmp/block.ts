// Typed QMP commands for disks: block nodes (blockdev-add/-del), mirror jobs (a live migration's
// disks), and the NBD server that exports a destination's disks to its source.
import type { QmpMonitor } from './monitor.ts';
import { bool, objects, str } from './reply.ts';

/** A block node to add: a file or host device, a format over another node, or an NBD export. */
export type BlockdevOptions =
  | {
      readonly driver: 'file' | 'host_device';
      readonly nodeName: string;
      readonly filename: string;
      readonly readOnly: boolean;
    }
  | {
      readonly driver: 'qcow2' | 'raw';
      readonly nodeName: string;
      /** The node the format reads its bytes from. */
      readonly file: string;
      readonly readOnly: boolean;
    }
  | {
      readonly driver: 'nbd';
      readonly nodeName: string;
      readonly host: string;
      readonly port: string;
      /** The export's name on that server. */
      readonly export: string;
    };

export async function blockdevAdd(m: QmpMonitor, o: BlockdevOptions): Promise<void> {
  switch (o.driver) {
    case 'file':
    case 'host_device':
      await m.run('blockdev-add', {
        driver: o.driver,
        'node-name': o.nodeName,
        filename: o.filename,
        'read-only': o.readOnly,
      });
      return;
    case 'qcow2':
    case 'raw':
      await m.run('blockdev-add', {
        driver: o.driver,
        'node-name': o.nodeName,
        file: o.file,
        'read-only': o.readOnly,
      });
      return;
    case 'nbd':
      await m.run('blockdev-add', {
        driver: 'nbd',
        'node-name': o.nodeName,
        export: o.export,
        server: { type: 'inet', host: o.host, port: o.port },
      });
      return;
  }
}

/** Removes a block node nothing uses any more (no device, no job, no node above it). */
export async function blockdevDel(m: QmpMonitor, nodeName: string): Promise<void> {
  await m.run('blockdev-del', { 'node-name': nodeName });
}

export interface BlockNode {
  readonly nodeName: string;
  /** The node's driver (file, qcow2, throttle, ...). */
  readonly driver: string;
}

export async function queryNamedBlockNodes(m: QmpMonitor): Promise<BlockNode[]> {
  const c = 'query-named-block-nodes';
  return objects(c, await m.run(c)).map((n) => ({
    nodeName: str(c, n, 'node-name'),
    driver: str(c, n, 'drv'),
  }));
}

/**
 * Starts job `jobId` copying node `device` into node `target`: `top` copies only the node's own
 * clusters (not its backing image's), `full` everything. The job turns ready once in step, and
 * stays so (the guest's writes reach both) until cancelled, which completes it.
 */
export async function blockdevMirror(
  m: QmpMonitor,
  o: {
    readonly jobId: string;
    readonly device: string;
    readonly target: string;
    readonly sync: 'top' | 'full';
  },
): Promise<void> {
  await m.run('blockdev-mirror', {
    'job-id': o.jobId,
    device: o.device,
    target: o.target,
    sync: o.sync,
  });
}

export interface BlockJob {
  /** The job's id (QEMU calls it the device for block jobs). */
  readonly device: string;
  readonly ready: boolean;
  /** created, running, ready, concluded, ... */
  readonly status: string;
  /** Why the job failed, when it did. */
  readonly error?: string;
}

export async function queryBlockJobs(m: QmpMonitor): Promise<BlockJob[]> {
  const c = 'query-block-jobs';
  return objects(c, await m.run(c)).map((j) => {
    const error = str(c, j, 'error', true);
    return {
      device: str(c, j, 'device'),
      ready: bool(c, j, 'ready'),
      status: str(c, j, 'status'),
      ...(error !== undefined ? { error } : {}),
    };
  });
}

/**
 * Ends a block job: a ready mirror completes (its target has every write so far); `force` stops
 * any job at once, its target left behind.
 */
export async function blockJobCancel(m: QmpMonitor, jobId: string, force = false): Promise<void> {
  await m.run('block-job-cancel', force ? { device: jobId, force: true } : { device: jobId });
}

/** Starts QEMU's NBD server on host:port (TCP), for the exports block-export-add makes. */
export async function nbdServerStart(m: QmpMonitor, host: string, port: number): Promise<void> {
  await m.run('nbd-server-start', {
    addr: { type: 'inet', data: { host, port: String(port) } },
  });
}

/** Stops the NBD server; its exports go with it. */
export async function nbdServerStop(m: QmpMonitor): Promise<void> {
  await m.run('nbd-server-stop');
}

/** Exports node `nodeName` on the NBD server as `name`, under id `id`. */
export async function blockExportAdd(
  m: QmpMonitor,
  o: {
    readonly id: string;
    readonly nodeName: string;
    readonly name: string;
    readonly writable: boolean;
  },
): Promise<void> {
  await m.run('block-export-add', {
    type: 'nbd',
    id: o.id,
    'node-name': o.nodeName,
    name: o.name,
    writable: o.writable,
  });
}

/** Removes an export (`force` drops its clients). */
export async function blockExportDel(m: QmpMonitor, id: string, force = false): Promise<void> {
  await m.run('block-export-del', force ? { id, mode: 'hard' } : { id });
}
