// /os-quota-sets (show, detail, defaults, update, delete) and /limits, with the keys each
// microversion shows (network keys until 2.36, injected files until 2.57, image meta until 2.39).
import type { Api } from '../../../platform/http/mount.ts';
import { first, params, query, s } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { QUOTA_RESOURCES, type QuotaResource, type QuotaSet } from '../../service/quotas.ts';

const INJECTED: readonly QuotaResource[] = [
  'injected_files',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
];
const NETWORK_KEYS = [
  'fixed_ips',
  'floating_ips',
  'security_group_rules',
  'security_groups',
] as const;

function shown(mv: Microversion): QuotaResource[] {
  return QUOTA_RESOURCES.filter((r) => !(mv.atLeast('2.57') && INJECTED.includes(r)));
}

function quotaView<T>(
  mv: Microversion,
  value: (r: QuotaResource) => T,
  networkValue: T,
): Record<string, T> {
  const out: Record<string, T> = Object.fromEntries(shown(mv).map((r) => [r, value(r)]));
  // Before 2.36 Nova still listed the network quotas (proxied to Neutron); unlimited here.
  if (!mv.atLeast('2.36')) for (const k of NETWORK_KEYS) out[k] = networkValue;
  return out;
}

export function quotaRoutes(app: Api, compute: ComputeService): void {
  const svc = compute.quotas;
  const byProject = { schema: { params: params('project') } };

  app.get('/os-quota-sets/:project', byProject, async (request) => {
    const set = await svc.show(request.auth, request.params.project);
    return {
      quota_set: {
        id: request.params.project,
        ...quotaView(request.microversion, (r) => set[r], -1),
      },
    };
  });
  app.get('/os-quota-sets/:project/detail', byProject, async (request) => {
    const { limits, usage } = await svc.detail(request.auth, request.params.project);
    return {
      quota_set: {
        id: request.params.project,
        ...quotaView(
          request.microversion,
          (r) => ({ in_use: usage[r], limit: limits[r], reserved: 0 }),
          { in_use: 0, limit: -1, reserved: 0 },
        ),
      },
    };
  });
  app.get('/os-quota-sets/:project/defaults', byProject, async (request) => {
    const set = svc.defaults(request.auth);
    return {
      quota_set: {
        id: request.params.project,
        ...quotaView(request.microversion, (r) => set[r], -1),
      },
    };
  });
  // Which keys a microversion allows, and their values, are checked below with Nova's messages.
  const update = {
    schema: {
      params: params('project'),
      body: s.object({ quota_set: s.record(s.unknown()) }, { required: ['quota_set'] }),
    },
  };
  app.put('/os-quota-sets/:project', update, async (request) => {
    const body = request.body.quota_set;
    const allowed = new Set<string>([
      ...shown(request.microversion),
      'force',
      ...(request.microversion.atLeast('2.36') ? [] : NETWORK_KEYS),
    ]);
    const changes: Partial<QuotaSet> = {};
    for (const [k, v] of Object.entries(body)) {
      if (!allowed.has(k))
        throw new BadRequest(
          `Invalid input for field/attribute quota_set. Additional properties are not allowed ('${k}' was unexpected)`,
          'quota_bad_request',
        );
      if (k === 'force' || (NETWORK_KEYS as readonly string[]).includes(k)) continue;
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > 2 ** 31 - 1)
        throw new BadRequest(
          `Invalid input for field/attribute ${k}. Value: ${JSON.stringify(v)}. It must be an integer of -1 (unlimited) or more.`,
          'quota_bad_request',
        );
      changes[k as QuotaResource] = n;
    }
    const force = body['force'] === true || body['force'] === 'true';
    const set = await svc.update(request.auth, request.params.project, changes, force);
    return { quota_set: quotaView(request.microversion, (r) => set[r], -1) };
  });
  app.delete('/os-quota-sets/:project', byProject, async (request, reply) => {
    await svc.reset(request.auth, request.params.project);
    return reply.code(202).send();
  });

  app.get('/limits', { schema: { querystring: query } }, async (request) => {
    const mv = request.microversion;
    const tenant = first(request.query['tenant_id']);
    const { limits, usage } = await svc.limits(request.auth, tenant || undefined);
    const absolute: Record<string, number> = {
      maxTotalInstances: limits.instances,
      maxTotalCores: limits.cores,
      maxTotalRAMSize: limits.ram,
      maxTotalKeypairs: limits.key_pairs,
      maxServerMeta: limits.metadata_items,
      maxServerGroups: limits.server_groups,
      maxServerGroupMembers: limits.server_group_members,
      totalInstancesUsed: usage.instances,
      totalCoresUsed: usage.cores,
      totalRAMUsed: usage.ram,
      totalServerGroupsUsed: usage.server_groups,
    };
    if (!mv.atLeast('2.57'))
      Object.assign(absolute, {
        maxPersonality: limits.injected_files,
        maxPersonalitySize: limits.injected_file_content_bytes,
      });
    if (!mv.atLeast('2.39')) absolute['maxImageMeta'] = 128;
    if (!mv.atLeast('2.36')) {
      Object.assign(absolute, {
        maxSecurityGroups: -1,
        maxSecurityGroupRules: -1,
        maxTotalFloatingIps: -1,
        totalSecurityGroupsUsed: 0,
        totalFloatingIpsUsed: 0,
      });
    }
    return { limits: { rate: [], absolute } };
  });
}
