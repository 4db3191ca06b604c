// /os-simple-tenant-usage: usage of all projects (admin) or one, over ?start=&end= (Nova's format,
// "2012-10-08T21:10:44.587336" or without the fraction), with per-server detail.
import type { Api } from '../../../platform/http/mount.ts';
import { first, params, query, type Query } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import type { ProjectUsage } from '../../service/usage.ts';
import { serverStatus } from '../server-views.ts';
import { novaTime, parseNovaTime } from '../views.ts';

function period(q: Query): { start: number; end: number } {
  const parse = (v: string | undefined, fallback: number, field: string) => {
    if (v === undefined || v === '') return fallback;
    const t = parseNovaTime(v);
    if (Number.isNaN(t))
      throw new BadRequest(
        `Invalid ${field} time ${v}: use %Y-%m-%dT%H:%M:%S[.%f].`,
        'usage_bad_period',
      );
    return t;
  };
  const end = parse(first(q['end']), Date.now(), 'end');
  const start = parse(first(q['start']), end, 'start');
  if (start > end)
    throw new BadRequest(
      'Invalid start time. The start time cannot occur after the end time.',
      'usage_bad_period',
    );
  return { start, end };
}

function usageView(
  u: ProjectUsage,
  start: number,
  end: number,
  detailed: boolean,
): Record<string, unknown> {
  return {
    tenant_id: u.projectId,
    start: novaTime(start),
    stop: novaTime(end),
    total_hours: u.totalHours,
    total_vcpus_usage: u.vcpuHours,
    total_memory_mb_usage: u.memoryMbHours,
    total_local_gb_usage: u.localGbHours,
    ...(detailed
      ? {
          server_usages: u.servers.map((s) => ({
            instance_id: s.instance.id,
            name: s.instance.name,
            hours: s.hours,
            memory_mb: s.instance.flavor.memoryMb,
            local_gb: s.instance.flavor.rootGb,
            vcpus: s.instance.flavor.vcpus,
            tenant_id: s.instance.projectId,
            flavor: s.instance.flavor.name,
            started_at: novaTime(s.startedAt),
            ended_at: s.endedAt === null ? null : novaTime(s.endedAt),
            state: serverStatus(s.instance) === 'DELETED' ? 'terminated' : s.instance.vmState,
            // Nova's uptime runs to now for a live server, whatever the period.
            uptime: Math.floor(((s.endedAt ?? Date.now()) - s.startedAt) / 1000),
          })),
        }
      : {}),
  };
}

export function usageRoutes(app: Api, compute: ComputeService): void {
  app.get('/os-simple-tenant-usage', { schema: { querystring: query } }, async (request) => {
    const { start, end } = period(request.query);
    const detailed = ['1', 'true', 'True'].includes(first(request.query['detailed']) ?? '');
    return {
      tenant_usages: (await compute.usage.list(request.auth, start, end)).map((u) =>
        usageView(u, start, end, detailed),
      ),
    };
  });
  const one = { schema: { params: params('project'), querystring: query } };
  app.get('/os-simple-tenant-usage/:project', one, async (request) => {
    const { start, end } = period(request.query);
    const project = request.params.project;
    const u = await compute.usage.show(request.auth, project, start, end);
    return { tenant_usage: u ? usageView(u, start, end, true) : {} };
  });
}
