// SQL for compute quotas: the limits an admin set per project, and what a project uses now
// (instances, cores and RAM from its instances; key pairs are per user and counted by their store).
import type { ComputeExecutor } from './tables.ts';

export async function projectLimits(
  db: ComputeExecutor,
  projectId: string,
): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('compute_quotas')
    .select(['resource', 'hard_limit'])
    .where('project_id', '=', projectId)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.resource, Number(r.hard_limit)]));
}

export async function setProjectLimits(
  db: ComputeExecutor,
  projectId: string,
  limits: Readonly<Record<string, number>>,
): Promise<void> {
  const rows = Object.entries(limits).map(([resource, hard_limit]) => ({
    project_id: projectId,
    resource,
    hard_limit,
  }));
  if (rows.length === 0) return;
  await db
    .insertInto('compute_quotas')
    .values(rows)
    .onConflict((oc) =>
      oc
        .columns(['project_id', 'resource'])
        .doUpdateSet((eb) => ({ hard_limit: eb.ref('excluded.hard_limit') })),
    )
    .execute();
}

export async function clearProjectLimits(db: ComputeExecutor, projectId: string): Promise<void> {
  await db.deleteFrom('compute_quotas').where('project_id', '=', projectId).execute();
}

/** Instances, vCPUs and MB of RAM a project's live instances hold. */
export async function projectUsage(
  db: ComputeExecutor,
  projectId: string,
): Promise<{ instances: number; cores: number; ram: number }> {
  const r = await db
    .selectFrom('instances')
    .select((eb) => [
      eb.fn.countAll<number>().as('n'),
      eb.fn.coalesce(eb.fn.sum<number>('vcpus'), eb.lit(0)).as('cores'),
      eb.fn.coalesce(eb.fn.sum<number>('memory_mb'), eb.lit(0)).as('ram'),
    ])
    .where('project_id', '=', projectId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return { instances: Number(r.n), cores: Number(r.cores), ram: Number(r.ram) };
}

/**
 * Takes the quota lock of `key` (a project, or a user's key pairs) for the rest of the transaction
 * `trx`: a create that counts usage and inserts under it cannot interleave with another of the same key.
 */
export async function lockQuota(trx: ComputeExecutor, key: string): Promise<void> {
  await trx
    .insertInto('compute_project_locks')
    .values({ project_id: key })
    .onConflict((oc) => oc.column('project_id').doUpdateSet({ project_id: key }))
    .execute();
}
