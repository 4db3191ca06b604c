// /os-services, /os-hypervisors and /os-availability-zone: the hosts agents reported, as Nova shows
// them at each microversion (integer ids before 2.53, UUIDs after; counters dropped at 2.88).
import type { Api, Req } from '../../../platform/http/mount.ts';
import { first, params, query, s } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import type { ComputeHost } from '../../model.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { novaTime } from '../views.ts';

/** The integer id older microversions show: stable, derived from the UUID. */
const legacyId = (uuid: string) => parseInt(uuid.replaceAll('-', '').slice(0, 7), 16);

export function hostRoutes(app: Api, compute: ComputeService): void {
  const svc = compute.hosts;
  const up = (h: ComputeHost) => (svc.isUp(h) ? 'up' : 'down');

  const serviceView = (h: ComputeHost, mv: Microversion) => ({
    id: mv.atLeast('2.53') ? h.serviceId : legacyId(h.serviceId),
    binary: 'nova-compute',
    host: h.host,
    zone: h.availabilityZone,
    status: h.enabled ? 'enabled' : 'disabled',
    state: up(h),
    updated_at: novaTime(h.lastSeen),
    disabled_reason: h.disabledReason,
    ...(mv.atLeast('2.11') ? { forced_down: h.forcedDown } : {}),
  });

  app.get('/os-services', { schema: { querystring: query } }, async (request) => {
    const host = first(request.query['host']);
    const binary = first(request.query['binary']);
    const found = await svc.services(request.auth, {
      ...(host ? { host } : {}),
      ...(binary ? { binary } : {}),
    });
    return { services: found.map((h) => serviceView(h, request.microversion)) };
  });

  // The fields' rules depend on the microversion (an action on a named host before 2.53).
  const update = { schema: { params: params('id'), body: s.record(s.unknown()) } };
  app.put('/os-services/:id', update, async (request) => {
    const mv = request.microversion;
    const id = request.params.id;
    const body = request.body;
    if (!mv.atLeast('2.53')) {
      // Before 2.53 the "id" is an action on a host named in the body.
      const host = body['host'];
      const binary = body['binary'];
      if (typeof host !== 'string' || typeof binary !== 'string')
        throw new BadRequest(
          'Invalid input: "host" and "binary" are required.',
          'service_bad_request',
        );
      const h = await svc.serviceByHost(host, binary);
      const change =
        id === 'enable'
          ? { enabled: true, disabledReason: null }
          : id === 'disable'
            ? { enabled: false }
            : id === 'disable-log-reason'
              ? {
                  enabled: false,
                  disabledReason:
                    typeof body['disabled_reason'] === 'string' ? body['disabled_reason'] : null,
                }
              : id === 'force-down' && mv.atLeast('2.11')
                ? { forcedDown: body['forced_down'] === true }
                : undefined;
      if (!change) throw new BadRequest(`Unknown action ${id}.`, 'service_bad_request');
      const after = await svc.updateService(request.auth, h.serviceId, change);
      return {
        service: {
          host: after.host,
          binary: 'nova-compute',
          status: after.enabled ? 'enabled' : 'disabled',
          ...(id === 'disable-log-reason' ? { disabled_reason: after.disabledReason } : {}),
          ...(id === 'force-down' ? { forced_down: after.forcedDown } : {}),
        },
      };
    }
    const status = body['status'];
    const reason = body['disabled_reason'];
    const forced = body['forced_down'];
    if (status !== undefined && status !== 'enabled' && status !== 'disabled')
      throw new BadRequest(
        "Invalid input: status must be 'enabled' or 'disabled'.",
        'service_bad_request',
      );
    if (
      reason !== undefined &&
      (status !== 'disabled' || typeof reason !== 'string' || reason.length > 255)
    ) {
      throw new BadRequest(
        'Specifying a disabled_reason is only supported when the status is disabled.',
        'service_bad_request',
      );
    }
    if (forced !== undefined && typeof forced !== 'boolean')
      throw new BadRequest('Invalid input: forced_down must be a boolean.', 'service_bad_request');
    if (status === undefined && forced === undefined)
      throw new BadRequest(
        'No updates were requested: give status and/or forced_down.',
        'service_bad_request',
      );
    const after = await svc.updateService(request.auth, id, {
      ...(status !== undefined
        ? {
            enabled: status === 'enabled',
            disabledReason: status === 'enabled' ? null : ((reason as string | undefined) ?? null),
          }
        : {}),
      ...(forced !== undefined ? { forcedDown: forced as boolean } : {}),
    });
    return { service: serviceView(after, mv) };
  });

  const byId = { schema: { params: params('id') } };
  app.delete('/os-services/:id', byId, async (request, reply) => {
    await svc.deleteService(request.auth, request.params.id);
    return reply.code(204).send();
  });

  const hypervisorSummary = (h: ComputeHost, mv: Microversion) => ({
    id: mv.atLeast('2.53') ? h.hypervisorId : legacyId(h.hypervisorId),
    hypervisor_hostname: h.host,
    state: up(h),
    status: h.enabled ? 'enabled' : 'disabled',
  });
  type Used = { vcpus: number; memoryMb: number; diskGb: number; runningVms: number };
  const NONE: Used = { vcpus: 0, memoryMb: 0, diskGb: 0, runningVms: 0 };
  const hypervisorDetail = (h: ComputeHost, mv: Microversion, used: Used = NONE) => ({
    ...hypervisorSummary(h, mv),
    hypervisor_type: h.hypervisorType,
    hypervisor_version: h.hypervisorVersion,
    host_ip: h.hostIp,
    service: {
      id: mv.atLeast('2.53') ? h.serviceId : legacyId(h.serviceId),
      host: h.host,
      disabled_reason: h.disabledReason,
    },
    ...(mv.atLeast('2.88')
      ? { uptime: `up since ${novaTime(h.createdAt)}` }
      : {
          vcpus: h.vcpus,
          memory_mb: h.memoryMb,
          local_gb: h.diskGb,
          vcpus_used: used.vcpus,
          memory_mb_used: used.memoryMb,
          local_gb_used: used.diskGb,
          free_ram_mb: h.memoryMb - used.memoryMb,
          free_disk_gb: h.diskGb - used.diskGb,
          current_workload: 0,
          running_vms: used.runningVms,
          disk_available_least: h.diskGb - used.diskGb,
          cpu_info: mv.atLeast('2.28') ? (JSON.parse(h.cpuInfo) as unknown) : h.cpuInfo,
        }),
  });
  const resolve = async (request: Req<typeof byId.schema>) => {
    const id = request.params.id;
    if (request.microversion.atLeast('2.53')) return svc.hypervisor(request.auth, id);
    const found = (await svc.hypervisors(request.auth, true)).find(
      (h) => String(legacyId(h.hypervisorId)) === id,
    );
    return found ?? svc.hypervisor(request.auth, id);
  };

  app.get('/os-hypervisors', { schema: { querystring: query } }, async (request) => {
    const like = first(request.query['hypervisor_hostname_pattern']);
    return {
      hypervisors: (await svc.hypervisors(request.auth, false, like ? { hostLike: like } : {})).map(
        (h) => hypervisorSummary(h, request.microversion),
      ),
    };
  });
  app.get('/os-hypervisors/detail', async (request) => {
    const list = await svc.hypervisors(request.auth, true);
    const used = await svc.usage(list.map((h) => h.host));
    return {
      hypervisors: list.map((h) => hypervisorDetail(h, request.microversion, used.get(h.host))),
    };
  });
  app.get('/os-hypervisors/:id', byId, async (request) => {
    const h = await resolve(request);
    return {
      hypervisor: hypervisorDetail(
        h,
        request.microversion,
        (await svc.usage([h.host])).get(h.host),
      ),
    };
  });
  app.get('/os-hypervisors/:id/uptime', byId, async (request) => {
    const h = await resolve(request);
    return {
      hypervisor: {
        ...hypervisorSummary(h, request.microversion),
        uptime: `up since ${novaTime(h.createdAt)}`,
      },
    };
  });

  const zoneList = (detail: boolean) => async (request: Req) => ({
    availabilityZoneInfo: (await svc.zones(request.auth, detail)).map((z) => ({
      zoneName: z.name,
      zoneState: { available: z.available },
      hosts: detail
        ? Object.fromEntries(
            z.hosts.map((h) => [
              h.host,
              {
                'nova-compute': {
                  available: svc.isUp(h),
                  active: h.enabled,
                  updated_at: novaTime(h.lastSeen),
                },
              },
            ]),
          )
        : null,
    })),
  });
  app.get('/os-availability-zone', zoneList(false));
  app.get('/os-availability-zone/detail', zoneList(true));
}
