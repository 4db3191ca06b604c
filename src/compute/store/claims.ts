// Resource claims, Placement-style: what instances hold on each host (allocations), checked
// against the host's inventory times its allocation ratios, and written only if the host's
// generation is still the one the caller saw. Two schedulers racing for the last room on a host:
// one claim wins, the other sees the generation moved and retries with fresh numbers.
import type { Kysely } from 'kysely';
import type { ComputeTables, ComputeExecutor } from './tables.ts';

import type { Allocation } from '../model.ts';

export interface HostUsage {
  readonly host: string;
  readonly generation: number;
  readonly capacity: { readonly vcpus: number; readonly memoryMb: number; readonly diskGb: number };
  readonly used: { readonly vcpus: number; readonly memoryMb: number; readonly diskGb: number };
}

/** Every host's capacity (inventory × ratio) and what allocations use of it, with its generation. */
export async function hostUsage(
  db: ComputeExecutor,
  hosts?: readonly string[],
): Promise<HostUsage[]> {
  let q = db
    .selectFrom('compute_hosts')
    .leftJoin('allocations', 'allocations.host', 'compute_hosts.host')
    .select((eb) => [
      'compute_hosts.host',
      'compute_hosts.generation',
      'compute_hosts.vcpus',
      'compute_hosts.memory_mb',
      'compute_hosts.disk_gb',
      'compute_hosts.cpu_allocation_ratio',
      'compute_hosts.ram_allocation_ratio',
      'compute_hosts.disk_allocation_ratio',
      eb.fn.coalesce(eb.fn.sum<number>('allocations.vcpus'), eb.lit(0)).as('used_vcpus'),
      eb.fn.coalesce(eb.fn.sum<number>('allocations.memory_mb'), eb.lit(0)).as('used_memory'),
      eb.fn.coalesce(eb.fn.sum<number>('allocations.disk_gb'), eb.lit(0)).as('used_disk'),
    ])
    .groupBy([
      'compute_hosts.host',
      'compute_hosts.generation',
      'compute_hosts.vcpus',
      'compute_hosts.memory_mb',
      'compute_hosts.disk_gb',
      'compute_hosts.cpu_allocation_ratio',
      'compute_hosts.ram_allocation_ratio',
      'compute_hosts.disk_allocation_ratio',
    ])
    .orderBy('compute_hosts.host');
  if (hosts) {
    if (hosts.length === 0) return [];
    q = q.where('compute_hosts.host', 'in', [...hosts]);
  }
  return (await q.execute()).map((r) => ({
    host: r.host,
    generation: Number(r.generation),
    capacity: {
      vcpus: Math.floor(Number(r.vcpus) * Number(r.cpu_allocation_ratio)),
      memoryMb: Math.floor(Number(r.memory_mb) * Number(r.ram_allocation_ratio)),
      diskGb: Math.floor(Number(r.disk_gb) * Number(r.disk_allocation_ratio)),
    },
    used: {
      vcpus: Number(r.used_vcpus),
      memoryMb: Number(r.used_memory),
      diskGb: Number(r.used_disk),
    },
  }));
}

export const fits = (u: HostUsage, a: Omit<Allocation, 'instanceId' | 'host'>): boolean =>
  u.used.vcpus + a.vcpus <= u.capacity.vcpus &&
  u.used.memoryMb + a.memoryMb <= u.capacity.memoryMb &&
  u.used.diskGb + a.diskGb <= u.capacity.diskGb;

/**
 * Claims `a` on its host if the host still has generation `seen` and room for it: one transaction
 * that bumps the generation (compare-and-swap) and inserts the allocation. False when the host
 * moved on or is full; the caller re-reads usage and tries again (or another host). `db` is the
 * database, never a caller's transaction: the claim commits on its own (Kysely refuses to open a
 * transaction inside one, so a handle from inTransaction fails loudly rather than joining).
 */
export async function claim(
  db: Kysely<ComputeTables>,
  a: Allocation,
  seen: number,
): Promise<boolean> {
  return db
    .transaction()
    .execute(async (trx) => {
      const bumped = await trx
        .updateTable('compute_hosts')
        .set((eb) => ({ generation: eb('generation', '+', 1) }))
        .where('host', '=', a.host)
        .where('generation', '=', seen)
        .executeTakeFirst();
      if (Number(bumped.numUpdatedRows) === 0) return false;
      // The generation is ours now: no other claim on this host can commit until we do, so this read is exact.
      const [u] = await hostUsage(trx, [a.host]);
      if (!u || !fits({ ...u, generation: seen + 1 }, a)) throw new ClaimRefused();
      // A same-host resize claims the new flavor on top of what the instance holds there already.
      await trx
        .insertInto('allocations')
        .values({
          instance_id: a.instanceId,
          host: a.host,
          vcpus: a.vcpus,
          memory_mb: a.memoryMb,
          disk_gb: a.diskGb,
        })
        .onConflict((oc) =>
          oc.columns(['instance_id', 'host']).doUpdateSet((eb) => ({
            vcpus: eb('allocations.vcpus', '+', eb.ref('excluded.vcpus')),
            memory_mb: eb('allocations.memory_mb', '+', eb.ref('excluded.memory_mb')),
            disk_gb: eb('allocations.disk_gb', '+', eb.ref('excluded.disk_gb')),
          })),
        )
        .execute();
      return true;
    })
    .catch((e: unknown) => {
      if (e instanceof ClaimRefused) return false;
      throw e;
    });
}

/** Rolls the claim's transaction back when the host turned out to be full. */
class ClaimRefused extends Error {}

export async function releaseAllocations(
  db: ComputeExecutor,
  instanceId: string,
  host?: string,
): Promise<void> {
  let q = db.deleteFrom('allocations').where('instance_id', '=', instanceId);
  if (host !== undefined) q = q.where('host', '=', host);
  await q.execute();
}

/** Sets what an instance holds on a host to exactly `a` (a resize confirmed or reverted shrinks its claim). */
export async function setAllocation(db: ComputeExecutor, a: Allocation): Promise<void> {
  await db
    .updateTable('allocations')
    .set({ vcpus: a.vcpus, memory_mb: a.memoryMb, disk_gb: a.diskGb })
    .where('instance_id', '=', a.instanceId)
    .where('host', '=', a.host)
    .execute();
}

export async function hasAllocation(db: ComputeExecutor, instanceId: string): Promise<boolean> {
  return (
    (await db
      .selectFrom('allocations')
      .select('host')
      .where('instance_id', '=', instanceId)
      .executeTakeFirst()) !== undefined
  );
}
