// The image service's default policy rules, named as Glance names them so that an operator's
// Glance policy file applies unchanged. Visibility (who may see which image) is enforced in the
// service itself, as Glance does; these rules decide who may do what.
import type { PolicyRule } from '../platform/policy/policy.ts';

const ADMIN = 'role:admin';
const OWNER_MEMBER = `${ADMIN} or (role:member and project_id:%(owner)s)`;
const READER = `${ADMIN} or role:reader`;
const rule = (name: string, check: string): PolicyRule => ({ name, check });

export const imagePolicies: readonly PolicyRule[] = [
  rule('context_is_admin', ADMIN),
  rule('add_image', `${ADMIN} or (role:member and project_id:%(owner)s)`),
  rule('get_image', READER),
  rule('get_images', READER),
  rule('modify_image', OWNER_MEMBER),
  rule('delete_image', OWNER_MEMBER),
  rule('publicize_image', ADMIN),
  rule('communitize_image', OWNER_MEMBER),
  rule('upload_image', OWNER_MEMBER),
  rule('download_image', READER),
  rule('deactivate', ADMIN),
  rule('reactivate', ADMIN),
  rule('add_member', OWNER_MEMBER),
  rule('delete_member', OWNER_MEMBER),
  rule(
    'get_member',
    `${ADMIN} or (role:reader and (project_id:%(owner)s or project_id:%(member_id)s))`,
  ),
  rule(
    'get_members',
    `${ADMIN} or (role:reader and (project_id:%(owner)s or project_id:%(member_id)s))`,
  ),
  rule('modify_member', `${ADMIN} or (role:member and project_id:%(member_id)s)`),
  rule('stage_image', OWNER_MEMBER),
  rule('import_image', OWNER_MEMBER),
  rule('get_task', `${ADMIN} or (role:reader and project_id:%(owner)s)`),
  rule('get_tasks', `${ADMIN} or role:reader`),
  rule('get_image_storage_usage', `${ADMIN} or role:reader`),
];
