// Identity's default policy rules, after Keystone's defaults: admin, and reader personas at system,
// domain and project scope. Operators override any of them by name from the policy file.
import type { PolicyRule } from '../platform/policy/policy.ts';

const ADMIN = 'rule:admin_required';
const SYSTEM_READER = '(role:reader and system_scope:all)';
const domainReader = (path: string) => `(role:reader and domain_id:%(${path})s)`;

const rule = (name: string, check: string): PolicyRule => ({ name, check });

export const identityPolicies: readonly PolicyRule[] = [
  rule('admin_required', 'role:admin'),
  rule('service_role', 'role:service'),
  rule('service_or_admin', `${ADMIN} or rule:service_role`),
  rule('token_subject', 'user_id:%(target.token.user_id)s'),

  rule(
    'identity:get_domain',
    `${ADMIN} or ${SYSTEM_READER} or domain_id:%(target.domain.id)s or project_domain_id:%(target.domain.id)s`,
  ),
  rule('identity:list_domains', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:create_domain', ADMIN),
  rule('identity:update_domain', ADMIN),
  rule('identity:delete_domain', ADMIN),

  rule(
    'identity:get_project',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.project.domain_id')} or project_id:%(target.project.id)s`,
  ),
  rule(
    'identity:list_projects',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),
  rule(
    'identity:list_user_projects',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.user.domain_id')} or user_id:%(target.user.id)s`,
  ),
  rule('identity:create_project', ADMIN),
  rule('identity:update_project', ADMIN),
  rule('identity:delete_project', ADMIN),

  rule(
    'identity:get_user',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.user.domain_id')} or user_id:%(target.user.id)s`,
  ),
  rule(
    'identity:list_users',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),
  rule('identity:create_user', ADMIN),
  rule('identity:update_user', ADMIN),
  rule('identity:delete_user', ADMIN),

  rule(
    'identity:get_group',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.group.domain_id')}`,
  ),
  rule(
    'identity:list_groups',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),
  rule(
    'identity:list_groups_for_user',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.user.domain_id')} or user_id:%(target.user.id)s`,
  ),
  rule('identity:create_group', ADMIN),
  rule('identity:update_group', ADMIN),
  rule('identity:delete_group', ADMIN),
  rule(
    'identity:list_users_in_group',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.group.domain_id')}`,
  ),
  rule(
    'identity:check_user_in_group',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.group.domain_id')}`,
  ),
  rule('identity:add_user_to_group', ADMIN),
  rule('identity:remove_user_from_group', ADMIN),

  rule('identity:get_role', `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`),
  rule(
    'identity:list_roles',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),
  rule('identity:create_role', ADMIN),
  rule('identity:update_role', ADMIN),
  rule('identity:delete_role', ADMIN),
  rule('identity:list_implied_roles', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:list_role_inference_rules', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:get_implied_role', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:create_implied_role', ADMIN),
  rule('identity:delete_implied_role', ADMIN),

  rule(
    'identity:check_grant',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),
  rule(
    'identity:list_grants',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),
  rule('identity:create_grant', ADMIN),
  rule('identity:revoke_grant', ADMIN),
  rule(
    'identity:list_role_assignments',
    `${ADMIN} or ${SYSTEM_READER} or ${domainReader('target.domain_id')}`,
  ),

  rule('identity:get_region', ''),
  rule('identity:list_regions', ''),
  rule('identity:create_region', ADMIN),
  rule('identity:update_region', ADMIN),
  rule('identity:delete_region', ADMIN),
  rule('identity:get_service', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:list_services', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:create_service', ADMIN),
  rule('identity:update_service', ADMIN),
  rule('identity:delete_service', ADMIN),
  rule('identity:get_endpoint', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:list_endpoints', `${ADMIN} or ${SYSTEM_READER}`),
  rule('identity:create_endpoint', ADMIN),
  rule('identity:update_endpoint', ADMIN),
  rule('identity:delete_endpoint', ADMIN),

  rule(
    'identity:validate_token',
    `${ADMIN} or ${SYSTEM_READER} or rule:service_role or rule:token_subject`,
  ),
  rule(
    'identity:check_token',
    `${ADMIN} or ${SYSTEM_READER} or rule:service_role or rule:token_subject`,
  ),
  rule('identity:revoke_token', `${ADMIN} or rule:service_role or rule:token_subject`),
  rule('identity:get_auth_catalog', ''),
  rule('identity:get_auth_projects', ''),
  rule('identity:get_auth_domains', ''),
  rule('identity:get_auth_system', ''),

  rule(
    'identity:get_application_credential',
    `${ADMIN} or ${SYSTEM_READER} or user_id:%(target.user.id)s`,
  ),
  rule(
    'identity:list_application_credentials',
    `${ADMIN} or ${SYSTEM_READER} or user_id:%(target.user.id)s`,
  ),
  rule('identity:create_application_credential', 'user_id:%(target.user.id)s'),
  rule('identity:delete_application_credential', `${ADMIN} or user_id:%(target.user.id)s`),
];
