// Compute's tables as Kysely types: what compute's store modules may name, and its part of the
// whole database the composition root assembles (src/cli/tables.ts). Conventions as in
// platform/db/schema.ts: 0/1 flags, epoch-millisecond times, JSON text extras.
import type { Executor } from '../../platform/db/store-helpers.ts';
import type { PlatformTables } from '../../platform/db/schema.ts';

/** Compute's tables, and the shared `meta` (the marker of a one-time seed, flavors.once). */
export interface ComputeTables extends PlatformTables {
  flavors: FlavorTable;
  flavor_extra_specs: FlavorExtraSpecTable;
  flavor_projects: FlavorProjectTable;
  keypairs: KeypairTable;
  compute_hosts: ComputeHostTable;
  instances: InstanceTable;
  allocations: AllocationTable;
  compute_quotas: ComputeQuotaTable;
  compute_project_locks: ComputeProjectLockTable;
  server_groups: ServerGroupTable;
  server_group_members: ServerGroupMemberTable;
  instance_actions: InstanceActionTable;
  instance_action_events: InstanceActionEventTable;
  aggregates: AggregateTable;
  aggregate_hosts: AggregateHostTable;
  aggregate_metadata: AggregateMetadataTable;
  console_tokens: ConsoleTokenTable;
}

/** What every compute store function takes: the database or a transaction, naming only compute's tables. */
export type ComputeExecutor = Executor<ComputeTables>;

/** A row per quota key (a project, or `user:<id>`), locked by a create to serialise its quota
 * check (store/quotas.ts lockQuota). */
export interface ComputeProjectLockTable {
  project_id: string;
}
export interface FlavorTable {
  id: string;
  name: string;
  ram_mb: number;
  vcpus: number;
  disk_gb: number;
  ephemeral_gb: number;
  swap_mb: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  description: string | null;
  created_at: number;
}
export interface FlavorExtraSpecTable {
  flavor_id: string;
  key: string;
  value: string;
}
export interface FlavorProjectTable {
  flavor_id: string;
  project_id: string;
}
export interface KeypairTable {
  user_id: string;
  name: string;
  type: string;
  public_key: string;
  fingerprint: string;
  created_at: number;
}
export interface ComputeHostTable {
  host: string;
  hypervisor_id: string;
  service_id: string;
  hypervisor_type: string;
  hypervisor_version: number;
  cpu_info: string;
  host_ip: string | null;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  cpu_allocation_ratio: number;
  ram_allocation_ratio: number;
  disk_allocation_ratio: number;
  availability_zone: string;
  enabled: number;
  disabled_reason: string | null;
  forced_down: number;
  agent_version: string;
  generation: number;
  last_seen: number;
  created_at: number;
  updated_at: number;
  failed_builds: number;
  console_url: string | null;
  console_note: string | null;
}
/** Only the SHA-256 of a console token is stored (hex). */
export interface ConsoleTokenTable {
  token_hash: string;
  instance_id: string;
  host: string;
  expires_at: number;
  created_at: number;
}
export interface InstanceTable {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  host: string | null;
  availability_zone: string | null;
  flavor: string;
  image_id: string | null;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  metadata: string;
  hostname: string;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  locked_by: string | null;
  fault: string | null;
  launched_at: number | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  description: string | null;
  reservation_id: string;
  launch_index: number;
  config_drive: number;
  access_ipv4: string | null;
  access_ipv6: string | null;
  locked_reason: string | null;
  kernel_id: string | null;
  ramdisk_id: string | null;
  security_groups: string;
  requested_networks: string;
  request_spec: string;
  migration: string | null;
  terminated_at: number | null;
  vcpus: number;
  memory_mb: number;
  shelved_image_id: string | null;
  /** 0-100 through the current task, as the host reports its steps; null when none reports. */
  progress: number | null;
}
export interface AllocationTable {
  instance_id: string;
  host: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}
export interface ComputeQuotaTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}
export interface ServerGroupTable {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: string;
  rules: string;
  created_at: number;
}
export interface ServerGroupMemberTable {
  group_id: string;
  instance_id: string;
}
export interface InstanceActionTable {
  id: string;
  instance_id: string;
  request_id: string;
  action: string;
  project_id: string;
  user_id: string;
  message: string | null;
  start_time: number;
  finish_time: number | null;
  updated_at: number;
}
export interface InstanceActionEventTable {
  action_id: string;
  event: string;
  host: string | null;
  result: string | null;
  traceback: string | null;
  start_time: number;
  finish_time: number | null;
}
export interface AggregateTable {
  id: number;
  uuid: string;
  name: string;
  availability_zone: string | null;
  created_at: number;
  updated_at: number | null;
}
export interface AggregateHostTable {
  aggregate_id: number;
  host: string;
}
export interface AggregateMetadataTable {
  aggregate_id: number;
  key: string;
  value: string;
}
