// The database's tables as Kysely types, one section per service. Only store.ts files use these.
// Conventions, identical on SQLite and PostgreSQL: booleans are 0/1 integers, times are epoch
// milliseconds (bigint), structured extras are JSON text.

export interface DomainTable {
  id: string;
  name: string;
  description: string;
  enabled: number;
  extra: string;
  created_at: number;
}
export interface ProjectTable {
  id: string;
  name: string;
  domain_id: string;
  parent_id: string | null;
  description: string;
  enabled: number;
  is_domain: number;
  tags: string;
  extra: string;
  created_at: number;
}
export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  enabled: number;
  default_project_id: string | null;
  password_hash: string | null;
  password_created_at: number | null;
  password_expires_at: number | null;
  extra: string;
  created_at: number;
}
export interface GroupTable {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  extra: string;
  created_at: number;
}
export interface UserGroupTable {
  user_id: string;
  group_id: string;
}
export interface RoleTable {
  /** `domain_id` is '' for global roles, so the (domain_id, name) unique index works on both dialects. */
  id: string;
  name: string;
  domain_id: string;
  description: string;
  options: string;
  extra: string;
}
export interface ImpliedRoleTable {
  prior_role_id: string;
  implied_role_id: string;
}
export type AssignmentType =
  'UserProject' | 'GroupProject' | 'UserDomain' | 'GroupDomain' | 'UserSystem' | 'GroupSystem';
export interface AssignmentTable {
  type: AssignmentType;
  actor_id: string;
  target_id: string;
  role_id: string;
  inherited: number;
}
export interface RegionTable {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: string;
}
export interface ServiceTable {
  id: string;
  type: string;
  name: string;
  description: string;
  enabled: number;
  extra: string;
}
export interface EndpointTable {
  id: string;
  service_id: string;
  interface: string;
  region_id: string | null;
  url: string;
  enabled: number;
  extra: string;
}
export interface AppCredentialTable {
  id: string;
  name: string;
  user_id: string;
  project_id: string;
  secret_hash: string;
  description: string;
  expires_at: number | null;
  unrestricted: number;
  roles: string;
  access_rules: string;
  created_at: number;
}
export interface RevocationEventTable {
  id: string;
  audit_id: string | null;
  user_id: string | null;
  project_id: string | null;
  domain_id: string | null;
  app_cred_id: string | null;
  issued_before: number;
  revoked_at: number;
}
/** Small key/value facts about this deployment (bootstrap done, catalog generation, ...). */
export interface MetaTable {
  key: string;
  value: string;
}

export interface DB {
  domains: DomainTable;
  projects: ProjectTable;
  users: UserTable;
  groups: GroupTable;
  user_groups: UserGroupTable;
  roles: RoleTable;
  implied_roles: ImpliedRoleTable;
  assignments: AssignmentTable;
  regions: RegionTable;
  services: ServiceTable;
  endpoints: EndpointTable;
  app_credentials: AppCredentialTable;
  revocation_events: RevocationEventTable;
  meta: MetaTable;
  images: ImageTable;
  image_properties: ImagePropertyTable;
  image_tags: ImageTagTable;
  image_members: ImageMemberTable;
  image_tasks: ImageTaskTable;
  flavors: FlavorTable;
  flavor_extra_specs: FlavorExtraSpecTable;
  flavor_projects: FlavorProjectTable;
  keypairs: KeypairTable;
  compute_hosts: ComputeHostTable;
  instances: InstanceTable;
  allocations: AllocationTable;
  compute_quotas: ComputeQuotaTable;
  compute_project_locks: { project_id: string };
  server_groups: ServerGroupTable;
  server_group_members: ServerGroupMemberTable;
  instance_actions: InstanceActionTable;
  instance_action_events: InstanceActionEventTable;
  aggregates: AggregateTable;
  aggregate_hosts: AggregateHostTable;
  aggregate_metadata: AggregateMetadataTable;
  console_tokens: ConsoleTokenTable;
}

// --- image
export interface ImageTable {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: number;
  os_hidden: number;
  owner: string | null;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  location: string | null;
  stage_key: string | null;
  pending_bytes: number;
  created_at: number;
  updated_at: number;
}
export interface ImagePropertyTable {
  image_id: string;
  name: string;
  value: string;
}
export interface ImageTagTable {
  image_id: string;
  tag: string;
}
export interface ImageMemberTable {
  image_id: string;
  member_id: string;
  status: string;
  created_at: number;
  updated_at: number;
}
export interface ImageTaskTable {
  id: string;
  type: string;
  status: string;
  owner: string;
  image_id: string | null;
  input: string;
  result: string | null;
  message: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
}

// --- compute
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
