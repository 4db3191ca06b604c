// Identity's tables as Kysely types: what identity's store modules may name, and its part of the
// whole database the composition root assembles (src/cli/tables.ts). Conventions as in
// platform/db/schema.ts: 0/1 flags, epoch-millisecond times, JSON text extras.
import type { Executor } from '../../platform/db/store-helpers.ts';
import type { PlatformTables } from '../../platform/db/schema.ts';

/** Identity's tables, and the shared `meta` (the token key ring, whether bootstrap ran). */
export interface IdentityTables extends PlatformTables {
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
  password_history: PasswordHistoryTable;
  identity_generation: IdentityGenerationTable;
}

/** What every identity store function takes: the database or a transaction, naming only identity's tables. */
export type IdentityExecutor = Executor<IdentityTables>;

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
  failed_auth_count: number;
  failed_auth_at: number | null;
  last_active_at: number | null;
  password_self_service: number;
  options: string;
}
/** A user's earlier passwords, as hashes only (unique_last_password_count). */
export interface PasswordHistoryTable {
  id: string;
  user_id: string;
  password_hash: string;
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
/** One row (id 1): bumped by trigger with every write a token validation could see (migration 0007). */
export interface IdentityGenerationTable {
  id: number;
  value: number;
}
