// The conductor: what host agents tell the cloud arrives here, on the bus target
// 'compute.conductor' that every api process serves (they compete for its messages). Agents never
// touch the database; the conductor writes for them.
import type { Bus, JsonValue, Subscription } from '../../platform/bus/bus.ts';
import { BadRequest } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import type { HostReport } from '../model.ts';
import type { HostService } from './hosts.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Consoles } from './consoles.ts';
import type { ImageDataPort } from './ports.ts';
import { parseHostWorkResult, parsePowerReports, type HostWorkResult } from '../agent/protocol.ts';

export const CONDUCTOR_TARGET = 'compute.conductor';

/** An optional text field of a report: a string of at most 2000 characters, else null. */
const optionalText = (v: JsonValue | undefined): string | null =>
  typeof v === 'string' && v !== '' && v.length <= 2000 ? v : null;

function parseReport(p: JsonValue): HostReport {
  const o = (p ?? {}) as Record<string, JsonValue>;
  const str = (k: string) => {
    if (typeof o[k] !== 'string' || o[k] === '')
      throw new BadRequest(`host report: ${k} must be a string`);
    return o[k] as string;
  };
  // The ratios the host's configuration sets; absent or null ones are the cloud's defaults.
  const ratios: { cpu?: number; ram?: number; disk?: number } = {};
  for (const r of ['cpu', 'ram', 'disk'] as const) {
    const k = `${r}_allocation_ratio`;
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1000)
      throw new BadRequest(`host report: ${k} must be a number above 0`);
    ratios[r] = v;
  }
  const int = (k: string) => {
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k]) || (o[k] as number) < 0)
      throw new BadRequest(`host report: ${k} must be a count`);
    return o[k] as number;
  };
  return {
    host: str('host'),
    hypervisorType: str('hypervisor_type'),
    hypervisorVersion: int('hypervisor_version'),
    cpuInfo: str('cpu_info'),
    hostIp: typeof o['host_ip'] === 'string' ? o['host_ip'] : null,
    vcpus: int('vcpus'),
    memoryMb: int('memory_mb'),
    diskGb: int('disk_gb'),
    agentVersion: str('agent_version'),
    console: { url: optionalText(o['console_url']), note: optionalText(o['console_note']) },
    ratios,
  };
}

/** A build still 'scheduling' after this long lost its api process (placement takes milliseconds). */
const STALLED_SCHEDULING_MS = 60_000;
/** Host work without a result for this long was lost (a snapshot of a large disk is the slowest). */
const ABANDONED_TASK_MS = 30 * 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
function uuidField(p: JsonValue, k: string): string {
  const v = (p as Record<string, JsonValue> | null)?.[k];
  if (typeof v !== 'string' || !UUID.test(v)) throw new BadRequest(`${k} must be a UUID`);
  return v;
}
function countField(p: JsonValue, k: string): number {
  const v = (p as Record<string, JsonValue> | null)?.[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new BadRequest(`${k} must be a count`);
  return v;
}

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
  const served = await bus.serve(CONDUCTOR_TARGET, async (method, payload) => {
    switch (method) {
      case 'host.report': {
        const h = await hosts.report(parseReport(payload));
        log.info(
          { host: h.host, vcpus: h.vcpus, memoryMb: h.memoryMb, diskGb: h.diskGb },
          'host reported',
        );
        return {
          host: h.host,
          hypervisor_id: h.hypervisorId,
          availability_zone: h.availabilityZone,
        };
      }
      case 'host.heartbeat': {
        const host = (payload as { host?: unknown } | null)?.host;
        if (typeof host !== 'string') throw new BadRequest('host heartbeat: host must be a string');
        // An unknown host (deleted by an admin) is told to report again.
        const beat = await hosts.heartbeat(host);
        return { known: beat.known, reconcile: beat.wasDown };
      }
      case 'instance.result':
        await lifecycle.onResult(parseHostWorkResult(payload));
        return;
      case 'host.power': {
        const p = (payload ?? {}) as { host?: unknown; instances?: JsonValue };
        if (typeof p.host !== 'string') throw new BadRequest('host power: host is required');
        return { stop: await lifecycle.syncPower(p.host, parsePowerReports(p.instances ?? null)) };
      }
      case 'host.reconcile': {
        const p = (payload ?? {}) as { host?: unknown; instances?: unknown };
        if (typeof p.host !== 'string' || !Array.isArray(p.instances))
          throw new BadRequest('host reconcile: host and instances are required');
        const r = await lifecycle.reconcile(
          p.host,
          p.instances as { uuid: string; power_state: HostWorkResult['power_state'] }[],
        );
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
      }
      // A host's console proxy presents a token: it is consumed whatever the answer (one-time).
      case 'console.consume': {
        const p = (payload ?? {}) as { token?: unknown; host?: unknown };
        if (typeof p.token !== 'string' || p.token.length > 200 || typeof p.host !== 'string')
          throw new BadRequest('console.consume needs a token and a host');
        const r = await deps.consoles.consume(p.token, p.host);
        if (!r.ok) log.info({ host: p.host, why: r.why }, 'console token refused');
        return r.ok ? { instance_id: r.instanceId } : { refused: r.why };
      }
      // Image bytes for agents in other processes (image-over-bus.ts).
      case 'image.read': {
        const length = Math.min(countField(payload, 'length'), 4 * 1024 * 1024);
        const r = await imageData().read(
          uuidField(payload, 'image_id'),
          countField(payload, 'offset'),
          length,
        );
        return { data: r.data.toString('base64'), eof: r.eof };
      }
      case 'image.upload.chunk': {
        const data = (payload as { data?: unknown } | null)?.data;
        if (typeof data !== 'string') throw new BadRequest('image.upload.chunk needs data');
        await imageData().writeChunk(
          uuidField(payload, 'upload_id'),
          countField(payload, 'offset'),
          Buffer.from(data, 'base64'),
        );
        return;
      }
      case 'image.upload.finish': {
        const format = (payload as { disk_format?: unknown } | null)?.disk_format;
        if (typeof format !== 'string' || !/^[a-z0-9]{1,16}$/.test(format))
          throw new BadRequest('image.upload.finish needs a disk_format');
        await imageData().finish(
          uuidField(payload, 'upload_id'),
          uuidField(payload, 'image_id'),
          format,
        );
        return;
      }
      default:
        throw new BadRequest(`the conductor does not handle ${method}`);
    }
  });
  return {
    async close() {
      clearInterval(sweeper);
      await served.close();
    },
  };
}
