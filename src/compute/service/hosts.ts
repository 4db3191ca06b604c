// Use cases for hypervisor hosts: agents report their inventory and heartbeat (through the
// conductor, never to the database directly); admins list them as services and hypervisors,
// enable, disable or force them down; everyone lists availability zones.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { Conflict, NotFound } from '../../platform/errors.ts';
import * as hosts from '../store/hosts.ts';
import { hostUsage } from '../store/claims.ts';
import { countByHost } from '../store/instances.ts';
import type { ComputeHost, HostReport } from '../model.ts';

export interface HostConfig {
  /** The zone new hosts join (Nova's default_availability_zone). */
  readonly defaultAvailabilityZone: string;
  readonly ratios: hosts.Ratios;
  /** A host not heard from for this long is 'down' (Nova's service_down_time). */
  readonly serviceDownSeconds: number;
}

export const DEFAULT_HOST_CONFIG: HostConfig = {
  defaultAvailabilityZone: 'nova',
  ratios: { cpu: 4, ram: 1, disk: 1 },
  serviceDownSeconds: 60,
};

export function createHostService(deps: {
  db: DbHandle;
  policy: Policy;
  config: HostConfig;
  now?: () => number;
}) {
  const { db, policy, config } = deps;
  const now = deps.now ?? Date.now;

  const isUp = (h: ComputeHost) =>
    !h.forcedDown && now() - h.lastSeen <= config.serviceDownSeconds * 1000;

  async function requireService(serviceId: string): Promise<ComputeHost> {
    const h = await hosts.findHost(db, { serviceId });
    if (!h) throw new NotFound(`Service ${serviceId} could not be found.`, 'service_not_found');
    return h;
  }

  /** Nova's host_status (2.16): UP, DOWN, MAINTENANCE (disabled) or UNKNOWN; '' without a host. */
  const statusOfHost = (h: ComputeHost | undefined): string =>
    h === undefined
      ? 'UNKNOWN'
      : h.forcedDown || !isUp(h)
        ? 'DOWN'
        : !h.enabled
          ? 'MAINTENANCE'
          : 'UP';

  return {
    isUp,
    async statusOf(host: string | null): Promise<string> {
      return host === null ? '' : statusOfHost(await hosts.getHost(db, host));
    },
    async statusesOf(names: readonly (string | null)[]): Promise<Map<string, string>> {
      const wanted = new Set(names.filter((n): n is string => n !== null));
      if (wanted.size === 0) return new Map();
      const all = new Map((await hosts.listHosts(db)).map((h) => [h.host, h]));
      return new Map([...wanted].map((n) => [n, statusOfHost(all.get(n))]));
    },
    /** From an agent, through the conductor. */
    report: (r: HostReport) =>
      hosts.upsertReport(
        db,
        r,
        { availabilityZone: config.defaultAvailabilityZone, ratios: config.ratios },
        now(),
      ),
    /** The agent is alive: whether the cloud knows the host, and whether it had counted it down
     * (its servers may have been deleted locally meanwhile: the agent reconciles then). */
    async heartbeat(host: string): Promise<{ known: boolean; wasDown: boolean }> {
      const before = await hosts.getHost(db, host);
      const known = await hosts.heartbeat(db, host, now());
      return {
        known,
        wasDown: before !== undefined && now() - before.lastSeen > config.serviceDownSeconds * 1000,
      };
    },

    async services(
      ctx: AuthContext,
      f: { host?: string; binary?: string },
    ): Promise<ComputeHost[]> {
      policy.enforce('os_compute_api:os-services:list', ctx.credentials, {});
      if (f.binary !== undefined && f.binary !== 'nova-compute') return [];
      return hosts.listHosts(db, f.host !== undefined ? { host: f.host } : {});
    },

    async updateService(
      ctx: AuthContext,
      serviceId: string,
      s: { enabled?: boolean; disabledReason?: string | null; forcedDown?: boolean },
    ): Promise<ComputeHost> {
      policy.enforce('os_compute_api:os-services:update', ctx.credentials, {});
      const h = await requireService(serviceId);
      await hosts.setServiceStatus(db, h.host, s, now());
      return (await hosts.getHost(db, h.host))!;
    },

    /** The old way (before 2.53): by host and binary name. */
    async serviceByHost(host: string, binary: string): Promise<ComputeHost> {
      const h = binary === 'nova-compute' ? await hosts.getHost(db, host) : undefined;
      if (!h)
        throw new NotFound(`Service ${binary} on host ${host} not found.`, 'service_not_found');
      return h;
    },

    /** What instances use on each host (the os-hypervisors counters). */
    async usage(
      names: readonly string[],
    ): Promise<
      Map<string, { vcpus: number; memoryMb: number; diskGb: number; runningVms: number }>
    > {
      const counts = await countByHost(db, names);
      return new Map(
        (await hostUsage(db, names)).map((u) => [
          u.host,
          { ...u.used, runningVms: counts.get(u.host) ?? 0 },
        ]),
      );
    },

    async deleteService(ctx: AuthContext, serviceId: string): Promise<void> {
      policy.enforce('os_compute_api:os-services:delete', ctx.credentials, {});
      const h = await requireService(serviceId);
      if ((await countByHost(db, [h.host])).get(h.host))
        throw new Conflict(
          `Unable to delete compute service that is hosting instances. Migrate or delete the instances first.`,
          'service_has_instances',
        );
      await hosts.deleteHost(db, h.host);
    },

    async hypervisors(
      ctx: AuthContext,
      detail: boolean,
      f: { hostLike?: string } = {},
    ): Promise<ComputeHost[]> {
      policy.enforce(
        detail ? 'os_compute_api:os-hypervisors:list-detail' : 'os_compute_api:os-hypervisors:list',
        ctx.credentials,
        {},
      );
      return hosts.listHosts(db, f);
    },

    async hypervisor(ctx: AuthContext, id: string): Promise<ComputeHost> {
      policy.enforce('os_compute_api:os-hypervisors:show', ctx.credentials, {});
      const h = await hosts.findHost(db, { hypervisorId: id });
      if (!h)
        throw new NotFound(
          `Hypervisor with ID '${id}' could not be found.`,
          'hypervisor_not_found',
        );
      return h;
    },

    async zones(
      ctx: AuthContext,
      detail: boolean,
    ): Promise<{ name: string; available: boolean; hosts: ComputeHost[] }[]> {
      policy.enforce(
        detail
          ? 'os_compute_api:os-availability-zone:detail'
          : 'os_compute_api:os-availability-zone:list',
        ctx.credentials,
        {},
      );
      const by = new Map<string, ComputeHost[]>();
      for (const h of await hosts.listHosts(db))
        (
          by.get(h.availabilityZone) ?? by.set(h.availabilityZone, []).get(h.availabilityZone)!
        ).push(h);
      // A zone is available while one of its hosts is enabled and up; a zone of disabled hosts is listed unavailable.
      return [...by].map(([name, hs]) => ({
        name,
        available: hs.some((h) => h.enabled && isUp(h)),
        hosts: hs,
      }));
    },
  };
}

export type HostService = ReturnType<typeof createHostService>;
