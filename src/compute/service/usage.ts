// os-simple-tenant-usage: what each project's instances used over a period, in hours of vCPU,
// RAM and disk, counted from launch to termination (or the period's end), as Nova counts it.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { instancesRunningIn } from '../store/instances.ts';
import { flavorDiskGb } from '../scheduler/host-selection.ts';
import type { Instance } from '../model.ts';

export interface ServerUsage {
  readonly instance: Instance;
  readonly hours: number;
  readonly startedAt: number;
  readonly endedAt: number | null;
}

export interface ProjectUsage {
  readonly projectId: string;
  readonly totalHours: number;
  readonly vcpuHours: number;
  readonly memoryMbHours: number;
  readonly localGbHours: number;
  readonly servers: readonly ServerUsage[];
}

export function createUsageService(deps: { db: DbHandle; policy: Policy }) {
  const { db, policy } = deps;

  function summarise(list: readonly Instance[], start: number, end: number): ProjectUsage[] {
    const by = new Map<string, ServerUsage[]>();
    for (const i of list) {
      const from = Math.max(i.launchedAt!, start);
      const to = Math.min(i.terminatedAt ?? end, end);
      const hours = Math.max(0, to - from) / 3_600_000;
      (by.get(i.projectId) ?? by.set(i.projectId, []).get(i.projectId)!).push({
        instance: i,
        hours,
        startedAt: i.launchedAt!,
        endedAt: i.terminatedAt,
      });
    }
    return [...by].map(([projectId, servers]) => ({
      projectId,
      servers,
      totalHours: servers.reduce((s, u) => s + u.hours, 0),
      vcpuHours: servers.reduce((s, u) => s + u.hours * u.instance.flavor.vcpus, 0),
      memoryMbHours: servers.reduce((s, u) => s + u.hours * u.instance.flavor.memoryMb, 0),
      localGbHours: servers.reduce((s, u) => s + u.hours * flavorDiskGb(u.instance.flavor), 0),
    }));
  }

  return {
    async list(ctx: AuthContext, start: number, end: number): Promise<ProjectUsage[]> {
      policy.enforce('os_compute_api:os-simple-tenant-usage:list', ctx.credentials, {});
      return summarise(await instancesRunningIn(db, { start, end }), start, end);
    },
    async show(
      ctx: AuthContext,
      projectId: string,
      start: number,
      end: number,
    ): Promise<ProjectUsage | null> {
      policy.enforce('os_compute_api:os-simple-tenant-usage:show', ctx.credentials, {
        project_id: projectId,
      });
      return (
        summarise(await instancesRunningIn(db, { start, end, projectId }), start, end)[0] ?? null
      );
    },
  };
}

export type UsageService = ReturnType<typeof createUsageService>;
