// The scheduler's snapshot of every host in one pass: inventory × ratios, what allocations use,
// service state, recent build failures and aggregate metadata, with the generation a claim
// compares against. Two queries, whatever the number of hosts.
import type { ComputeExecutor } from './tables.ts';
import type { HostState } from '../model.ts';
import { hostUsage } from './claims.ts';

export interface SchedulableHost extends HostState {
  readonly generation: number;
}

export async function schedulableHosts(
  db: ComputeExecutor,
  opts: { now: number; downAfterMs: number; hosts?: readonly string[] },
): Promise<SchedulableHost[]> {
  const usage = await hostUsage(db, opts.hosts);
  if (usage.length === 0) return [];
  let q = db
    .selectFrom('compute_hosts')
    .select([
      'host',
      'availability_zone',
      'enabled',
      'forced_down',
      'last_seen',
      'hypervisor_type',
      'failed_builds',
    ]);
  if (opts.hosts) q = q.where('host', 'in', [...opts.hosts]);
  const facts = new Map((await q.execute()).map((r) => [r.host, r]));
  let mq = db
    .selectFrom('aggregate_hosts')
    .innerJoin(
      'aggregate_metadata',
      'aggregate_metadata.aggregate_id',
      'aggregate_hosts.aggregate_id',
    )
    .select(['aggregate_hosts.host', 'aggregate_metadata.key', 'aggregate_metadata.value']);
  if (opts.hosts) mq = mq.where('aggregate_hosts.host', 'in', [...opts.hosts]);
  const meta = new Map<string, Record<string, string[]>>();
  for (const r of await mq.execute()) {
    const m = meta.get(r.host) ?? meta.set(r.host, {}).get(r.host)!;
    // Nova's aggregate metadata values may be comma-separated lists.
    (m[r.key] ??= []).push(...r.value.split(',').map((v) => v.trim()));
  }
  const out: SchedulableHost[] = [];
  for (const u of usage) {
    const f = facts.get(u.host);
    if (!f) continue;
    out.push({
      host: u.host,
      generation: u.generation,
      capacity: u.capacity,
      used: u.used,
      availabilityZone: f.availability_zone,
      enabled: Number(f.enabled) === 1,
      up: Number(f.forced_down) === 0 && opts.now - Number(f.last_seen) <= opts.downAfterMs,
      hypervisorType: f.hypervisor_type,
      failedBuilds: Number(f.failed_builds),
      aggregateMetadata: meta.get(u.host) ?? {},
    });
  }
  return out;
}

/** Nova's BuildFailureWeigher input: a failed build counts against the host until one succeeds there. */
export async function noteBuildResult(
  db: ComputeExecutor,
  host: string,
  ok: boolean,
): Promise<void> {
  let q = db
    .updateTable('compute_hosts')
    .set((eb) => ({ failed_builds: ok ? 0 : eb('failed_builds', '+', 1) }))
    .where('host', '=', host);
  if (ok) q = q.where('failed_builds', '>', 0);
  await q.execute();
}
