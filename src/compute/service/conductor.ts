// The conductor: what host agents tell the cloud arrives here, on the bus target
// 'compute.conductor' that every api process serves (they compete for its messages). Agents never
// touch the database; the conductor writes for them.
import type { Bus, Subscription } from '../../platform/bus/bus.ts';
import { serveRpc } from '../../platform/bus/rpc.ts';
import { BadRequest } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import type { HostReport } from '../model.ts';
import type { HostService } from './hosts.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Consoles } from './consoles.ts';
import type { ImageDataPort } from './ports.ts';
import { CONDUCTOR_PROTOCOL, CONDUCTOR_TARGET, type WireHostReport } from '../agent/protocol.ts';

/** The report as the host service takes it (camelCase; absent ratios are the cloud's defaults). */
function hostReport(r: WireHostReport): HostReport {
  const ratios: { cpu?: number; ram?: number; disk?: number } = {};
  if (r.cpu_allocation_ratio !== null) ratios.cpu = r.cpu_allocation_ratio;
  if (r.ram_allocation_ratio !== null) ratios.ram = r.ram_allocation_ratio;
  if (r.disk_allocation_ratio !== null) ratios.disk = r.disk_allocation_ratio;
  return {
    host: r.host,
    hypervisorType: r.hypervisor_type,
    hypervisorVersion: r.hypervisor_version,
    cpuInfo: r.cpu_info,
    hostIp: r.host_ip,
    vcpus: r.vcpus,
    memoryMb: r.memory_mb,
    diskGb: r.disk_gb,
    agentVersion: r.agent_version,
    console: { url: r.console_url, note: r.console_note },
    ratios,
  };
}

/** A build still 'scheduling' after this long lost its api process (placement takes milliseconds). */
const STALLED_SCHEDULING_MS = 60_000;
/** Host work without a result for this long was lost (a snapshot of a large disk is the slowest). */
const ABANDONED_TASK_MS = 30 * 60_000;

export async function serveConductor(deps: {
  bus: Bus;
  hosts: HostService;
  lifecycle: Lifecycle;
  consoles: Consoles;
  log: Logger;
  imageData?: ImageDataPort;
  sweepEveryMs?: number;
}): Promise<Subscription> {
  const { bus, hosts, lifecycle, log } = deps;
  const imageData = () => {
    if (!deps.imageData) throw new BadRequest('this api process serves no image data to agents');
    return deps.imageData;
  };
  // Every api process also sweeps for builds another one left behind (it may have crashed).
  const sweeper = setInterval(() => {
    lifecycle
      .sweepStalled(STALLED_SCHEDULING_MS)
      .catch((err: unknown) => log.error({ err }, 'sweeping stalled builds failed'));
    lifecycle
      .sweepAbandoned(ABANDONED_TASK_MS)
      .catch((err: unknown) => log.error({ err }, 'sweeping abandoned host work failed'));
    deps.consoles
      .sweep()
      .catch((err: unknown) => log.error({ err }, 'sweeping expired console tokens failed'));
  }, deps.sweepEveryMs ?? 30_000);
  sweeper.unref();
  const served = await serveRpc(bus, CONDUCTOR_TARGET, CONDUCTOR_PROTOCOL, {
    'host.report': async (r) => {
      const h = await hosts.report(hostReport(r));
      log.info(
        { host: h.host, vcpus: h.vcpus, memoryMb: h.memoryMb, diskGb: h.diskGb },
        'host reported',
      );
      return { host: h.host, hypervisor_id: h.hypervisorId, availability_zone: h.availabilityZone };
    },
    // An unknown host (deleted by an admin) is told to report again.
    'host.heartbeat': async ({ host }) => {
      const beat = await hosts.heartbeat(host);
      return { known: beat.known, reconcile: beat.wasDown };
    },
    'instance.result': (r) => lifecycle.onResult(r),
    'instance.step': (st) => lifecycle.onStep(st),
    'host.power': async (p) => ({ stop: await lifecycle.syncPower(p.host, p.instances) }),
    'host.reconcile': async (p) => {
      const r = await lifecycle.reconcile(p.host, p.instances);
      log.info(
        {
          host: p.host,
          present: p.instances.length,
          destroy: r.destroy.length,
          forget: r.forget.length,
        },
        'host reconciled',
      );
      return r;
    },
    'console.consume': async (p) => {
      const r = await deps.consoles.check(p.token, p.host);
      if (!r.ok) log.info({ host: p.host, why: r.why }, 'console token refused');
      return r.ok ? { instance_id: r.instanceId } : { refused: r.why };
    },
    'image.read': async (p) => {
      const r = await imageData().read(p.image_id, p.offset, Math.min(p.length, 4 * 1024 * 1024));
      return { data: r.data.toString('base64'), eof: r.eof };
    },
    'image.upload.chunk': (p) =>
      imageData().writeChunk(p.upload_id, p.offset, Buffer.from(p.data, 'base64')),
    'image.upload.finish': (p) => imageData().finish(p.upload_id, p.image_id, p.disk_format),
  });
  return {
    async close() {
      clearInterval(sweeper);
      await served.close();
    },
  };
}
