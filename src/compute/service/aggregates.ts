// Use cases for host aggregates (admin only): create, rename, zone, hosts, metadata. An aggregate
// with an availability zone puts its hosts in that zone, as in Nova; a host is in one zone only.
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, Conflict, NotFound } from '../../platform/errors.ts';
import { isUniqueViolation, type DbHandle } from '../../platform/db/database.ts';
import * as aggregates from '../store/aggregates.ts';
import * as hostStore from '../store/hosts.ts';

export type { Aggregate } from '../store/aggregates.ts';

export function createAggregateService(deps: {
  db: DbHandle;
  policy: Policy;
  defaultZone: string;
  now?: () => number;
}) {
  const { db, policy, defaultZone } = deps;
  const now = deps.now ?? Date.now;
  const enforce = (ctx: AuthContext, action: string) =>
    policy.enforce(`os_compute_api:os-aggregates:${action}`, ctx.credentials, {});

  async function require(id: number): Promise<aggregates.Aggregate> {
    const a = Number.isInteger(id) ? await aggregates.getAggregate(db, id) : undefined;
    if (!a) throw new NotFound(`Aggregate ${id} could not be found.`, 'aggregate_not_found');
    return a;
  }

  /** The zone a host should be in given the aggregates it belongs to; throws when two disagree. */
  async function zoneOf(
    host: string,
    extra?: { zone: string | null; except?: number },
  ): Promise<string> {
    const zones = new Set(
      (await aggregates.listAggregates(db, { host }))
        .filter((a) => a.id !== extra?.except)
        .map((a) => a.availabilityZone)
        .filter((z): z is string => z !== null),
    );
    if (extra?.zone) zones.add(extra.zone);
    if (zones.size > 1)
      throw new BadRequest(
        `Cannot put host ${host} in availability zones ${[...zones].join(' and ')} at once.`,
        'aggregate_zone_conflict',
      );
    return [...zones][0] ?? defaultZone;
  }

  async function unique<T>(name: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (isUniqueViolation(e))
        throw new Conflict(`Aggregate ${name} already exists.`, 'aggregate_exists');
      throw e;
    }
  }

  return {
    async list(ctx: AuthContext): Promise<aggregates.Aggregate[]> {
      enforce(ctx, 'index');
      return aggregates.listAggregates(db);
    },
    async get(ctx: AuthContext, id: number): Promise<aggregates.Aggregate> {
      enforce(ctx, 'show');
      return require(id);
    },

    async create(
      ctx: AuthContext,
      a: { name: string; availabilityZone: string | null },
    ): Promise<aggregates.Aggregate> {
      enforce(ctx, 'create');
      const id = await unique(a.name, () =>
        aggregates.insertAggregate(db, {
          uuid: crypto.randomUUID(),
          name: a.name,
          availabilityZone: a.availabilityZone,
          createdAt: now(),
        }),
      );
      return require(id);
    },

    async update(
      ctx: AuthContext,
      id: number,
      u: { name?: string; availabilityZone?: string | null },
    ): Promise<aggregates.Aggregate> {
      enforce(ctx, 'update');
      const a = await require(id);
      if (u.availabilityZone !== undefined)
        for (const h of a.hosts) await zoneOf(h, { zone: u.availabilityZone, except: id });
      await unique(u.name ?? a.name, () => aggregates.updateAggregate(db, id, u, now()));
      if (u.availabilityZone !== undefined)
        for (const h of a.hosts) await aggregates.setHostZone(db, [h], await zoneOf(h));
      return require(id);
    },

    async remove(ctx: AuthContext, id: number): Promise<void> {
      enforce(ctx, 'delete');
      const a = await require(id);
      if (a.hosts.length > 0)
        throw new BadRequest(
          `Aggregate ${id} still has hosts; remove them first.`,
          'aggregate_not_empty',
        );
      await aggregates.deleteAggregate(db, id);
    },

    async addHost(ctx: AuthContext, id: number, host: string): Promise<aggregates.Aggregate> {
      enforce(ctx, 'add_host');
      const a = await require(id);
      if (!(await hostStore.getHost(db, host)))
        throw new NotFound(`Compute host ${host} could not be found.`, 'host_not_found');
      if (a.hosts.includes(host))
        throw new Conflict(`Aggregate ${id} already has host ${host}.`, 'aggregate_host_exists');
      const zone = await zoneOf(host, { zone: a.availabilityZone });
      await aggregates.addHost(db, id, host);
      await aggregates.setHostZone(db, [host], zone);
      return require(id);
    },

    async removeHost(ctx: AuthContext, id: number, host: string): Promise<aggregates.Aggregate> {
      enforce(ctx, 'remove_host');
      await require(id);
      if (!(await aggregates.removeHost(db, id, host)))
        throw new NotFound(
          `Cannot remove host ${host} in aggregate ${id}: not found.`,
          'aggregate_host_not_found',
        );
      await aggregates.setHostZone(db, [host], await zoneOf(host));
      return require(id);
    },

    async setMetadata(
      ctx: AuthContext,
      id: number,
      changes: Readonly<Record<string, string | null>>,
    ): Promise<aggregates.Aggregate> {
      enforce(ctx, 'set_metadata');
      const a = await require(id);
      const { availability_zone: zone, ...rest } = changes;
      // Nova keeps the zone as the availability_zone metadata key.
      if (zone !== undefined)
        return this.update(ctx, a.id, { availabilityZone: zone }).then(async () => {
          await aggregates.setMetadata(db, id, rest);
          return require(id);
        });
      await aggregates.setMetadata(db, id, rest);
      return require(id);
    },
  };
}

export type AggregateService = ReturnType<typeof createAggregateService>;
