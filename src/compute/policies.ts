// The compute service's default policy rules, named as Nova names them so an operator's Nova
// policy file applies unchanged: admins manage flavors; users own their key pairs.
import type { PolicyRule } from '../platform/policy/policy.ts';

const ADMIN = 'role:admin';
const ANY_READER = `${ADMIN} or role:reader`;
const KEYPAIR_OWNER = `${ADMIN} or user_id:%(user_id)s`;
const rule = (name: string, check: string): PolicyRule => ({ name, check });

export const computePolicies: readonly PolicyRule[] = [
  rule('context_is_admin', ADMIN),
  rule('os_compute_api:flavors:index', ANY_READER),
  rule('os_compute_api:os-flavor-manage:create', ADMIN),
  rule('os_compute_api:os-flavor-manage:update', ADMIN),
  rule('os_compute_api:os-flavor-manage:delete', ADMIN),
  rule('os_compute_api:os-flavor-extra-specs:index', ANY_READER),
  rule('os_compute_api:os-flavor-extra-specs:show', ANY_READER),
  rule('os_compute_api:os-flavor-extra-specs:create', ADMIN),
  rule('os_compute_api:os-flavor-extra-specs:update', ADMIN),
  rule('os_compute_api:os-flavor-extra-specs:delete', ADMIN),
  rule('os_compute_api:os-flavor-access', ADMIN),
  rule('os_compute_api:os-flavor-access:add_tenant_access', ADMIN),
  rule('os_compute_api:os-flavor-access:remove_tenant_access', ADMIN),
  rule('os_compute_api:os-keypairs:index', KEYPAIR_OWNER),
  rule('os_compute_api:os-keypairs:show', KEYPAIR_OWNER),
  rule('os_compute_api:os-keypairs:create', KEYPAIR_OWNER),
  rule('os_compute_api:os-keypairs:delete', KEYPAIR_OWNER),
  rule('os_compute_api:os-services:list', ADMIN),
  rule('os_compute_api:os-services:update', ADMIN),
  rule('os_compute_api:os-services:delete', ADMIN),
  rule('os_compute_api:os-hypervisors:list', ADMIN),
  rule('os_compute_api:os-hypervisors:list-detail', ADMIN),
  rule('os_compute_api:os-hypervisors:show', ADMIN),
  rule('os_compute_api:os-availability-zone:list', ANY_READER),
  rule('os_compute_api:os-availability-zone:detail', ADMIN),
  rule('os_compute_api:os-quota-sets:show', `${ADMIN} or (role:reader and project_id:%(project_id)s)`),
  rule('os_compute_api:os-quota-sets:detail', `${ADMIN} or (role:reader and project_id:%(project_id)s)`),
  rule('os_compute_api:os-quota-sets:defaults', ANY_READER),
  rule('os_compute_api:os-quota-sets:update', ADMIN),
  rule('os_compute_api:os-quota-sets:delete', ADMIN),
  rule('os_compute_api:limits', ANY_READER),
  rule('os_compute_api:limits:other_project', ADMIN),
];
