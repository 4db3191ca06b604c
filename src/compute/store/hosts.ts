// SQL for compute hosts: the inventory agents report, their heartbeat, and the service status an
// admin sets. `generation` changes with every inventory change, for the scheduler's claims.
import type { Selectable } from 'kysely';
import type { ComputeHostTable, ComputeExecutor } from './tables.ts';
import { flag } from '../../platform/db/store-helpers.ts';
import type { ComputeHost, HostReport } from '../model.ts';

const toHost = (r: Selectable<ComputeHostTable>): ComputeHost => ({
  host: r.host,
  hypervisorId: r.hypervisor_id,
  serviceId: r.service_id,
  hypervisorType: r.hypervisor_type,
  hypervisorVersion: Number(r.hypervisor_version),
  cpuInfo: r.cpu_info,
  hostIp: r.host_ip,
  vcpus: Number(r.vcpus),
  memoryMb: Number(r.memory_mb),
  diskGb: Number(r.disk_gb),
  cpuAllocationRatio: Number(r.cpu_allocation_ratio),
  ramAllocationRatio: Number(r.ram_allocation_ratio),
  diskAllocationRatio: Number(r.disk_allocation_ratio),
  availabilityZone: r.availability_zone,
  enabled: r.enabled === 1,
  disabledReason: r.disabled_reason,
  forcedDown: r.forced_down === 1,
  agentVersion: r.agent_version,
  console: { url: r.console_url, note: r.console_note },
  generation: Number(r.generation),
  lastSeen: Number(r.last_seen),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export interface Ratios {
  readonly cpu: number;
  readonly ram: number;
  readonly disk: number;
}
const RATIO_COLUMNS = {
  cpu: 'cpu_allocation_ratio',
  ram: 'ram_allocation_ratio',
  disk: 'disk_allocation_ratio',
} as const;

/** Records an agent's report: a new host row, or the same host's new inventory (bumping its generation if it changed). */
export async function upsertReport(
  db: ComputeExecutor,
  r: HostReport,
  defaults: { availabilityZone: string; ratios: Ratios },
  now: number,
): Promise<ComputeHost> {
  const cur = await db
    .selectFrom('compute_hosts')
    .selectAll()
    .where('host', '=', r.host)
    .executeTakeFirst();
  const facts = {
    hypervisor_type: r.hypervisorType,
    hypervisor_version: r.hypervisorVersion,
    cpu_info: r.cpuInfo,
    host_ip: r.hostIp,
    vcpus: r.vcpus,
    memory_mb: r.memoryMb,
    disk_gb: r.diskGb,
    agent_version: r.agentVersion,
    console_url: r.console?.url ?? null,
    console_note: r.console?.note ?? null,
  };
  if (!cur) {
    await db
      .insertInto('compute_hosts')
      .values({
        host: r.host,
        hypervisor_id: crypto.randomUUID(),
        service_id: crypto.randomUUID(),
        ...facts,
        cpu_allocation_ratio: r.ratios?.cpu ?? defaults.ratios.cpu,
        ram_allocation_ratio: r.ratios?.ram ?? defaults.ratios.ram,
        disk_allocation_ratio: r.ratios?.disk ?? defaults.ratios.disk,
        availability_zone: defaults.availabilityZone,
        enabled: 1,
        disabled_reason: null,
        forced_down: 0,
        generation: 1,
        failed_builds: 0,
        last_seen: now,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('host').doNothing())
      .execute();
  } else {
    // Ratios the host's configuration sets follow it (a restarted agent with a new one); others stay.
    const ratios: Partial<Record<(typeof RATIO_COLUMNS)[keyof Ratios], number>> = {};
    for (const k of ['cpu', 'ram', 'disk'] as const) {
      const v = r.ratios?.[k];
      if (v !== undefined) ratios[RATIO_COLUMNS[k]] = v;
    }
    const changed =
      cur.vcpus !== r.vcpus ||
      cur.memory_mb !== r.memoryMb ||
      cur.disk_gb !== r.diskGb ||
      Object.entries(ratios).some(([column, v]) => v !== Number(cur[column as keyof typeof cur]));
    // The generation moves with the capacity, so claims made against the old numbers are decided again.
    await db
      .updateTable('compute_hosts')
      .set({
        ...facts,
        ...ratios,
        last_seen: now,
        updated_at: now,
        ...(changed ? { generation: Number(cur.generation) + 1 } : {}),
      })
      .where('host', '=', r.host)
      .execute();
  }
  return (await getHost(db, r.host))!;
}

/** The agent is alive; false when the host is unknown (it must report first). */
export async function heartbeat(db: ComputeExecutor, host: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('compute_hosts')
    .set({ last_seen: now })
    .where('host', '=', host)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function getHost(db: ComputeExecutor, host: string): Promise<ComputeHost | undefined> {
  const r = await db
    .selectFrom('compute_hosts')
    .selectAll()
    .where('host', '=', host)
    .executeTakeFirst();
  return r && toHost(r);
}

export async function findHost(
  db: ComputeExecutor,
  by: { hypervisorId?: string; serviceId?: string },
): Promise<ComputeHost | undefined> {
  let q = db.selectFrom('compute_hosts').selectAll();
  if (by.hypervisorId !== undefined) q = q.where('hypervisor_id', '=', by.hypervisorId);
  if (by.serviceId !== undefined) q = q.where('service_id', '=', by.serviceId);
  const r = await q.executeTakeFirst();
  return r && toHost(r);
}

export async function listHosts(
  db: ComputeExecutor,
  f: { host?: string; hostLike?: string; zone?: string } = {},
): Promise<ComputeHost[]> {
  let q = db.selectFrom('compute_hosts').selectAll().orderBy('host');
  if (f.host !== undefined) q = q.where('host', '=', f.host);
  if (f.hostLike !== undefined)
    q = q.where('host', 'like', `%${f.hostLike.replace(/[%_\\]/g, (c) => `\\${c}`)}%`);
  if (f.zone !== undefined) q = q.where('availability_zone', '=', f.zone);
  return (await q.execute()).map(toHost);
}

export async function setServiceStatus(
  db: ComputeExecutor,
  host: string,
  s: { enabled?: boolean; disabledReason?: string | null; forcedDown?: boolean },
  now: number,
): Promise<void> {
  await db
    .updateTable('compute_hosts')
    .set({
      updated_at: now,
      ...(s.enabled !== undefined ? { enabled: flag(s.enabled) } : {}),
      ...(s.disabledReason !== undefined ? { disabled_reason: s.disabledReason } : {}),
      ...(s.forcedDown !== undefined ? { forced_down: flag(s.forcedDown) } : {}),
    })
    .where('host', '=', host)
    .execute();
}

export async function deleteHost(db: ComputeExecutor, host: string): Promise<boolean> {
  const r = await db.deleteFrom('compute_hosts').where('host', '=', host).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
