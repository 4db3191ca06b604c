// Group use cases and group membership.
import * as users from '../../store/users.ts';
import * as roles from '../../store/roles.ts';
import type { Group, User } from '../../model.ts';
import { inTransaction } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { BadRequest, NotFound } from '../../../platform/errors.ts';
import { hexId } from '../../../platform/ids.ts';
import { defined, notFound, type DirectoryCore, type Patch, type GroupInput } from './common.ts';

export function groupUseCases(core: DirectoryCore) {
  const { db, enforce, impliedDomain, requireUser, bodyDomain, notifications } = core;
  return {
    async listGroups(ctx: AuthContext, f: { name?: string; domainId?: string }): Promise<Group[]> {
      enforce(ctx, 'identity:list_groups', {
        target: { domain_id: f.domainId ?? null },
        domain_id: f.domainId ?? null,
      });
      return users.listGroups(db, f);
    },
    async getGroup(ctx: AuthContext, id: string): Promise<Group> {
      const g = await users.getGroup(db, id);
      enforce(ctx, 'identity:get_group', {
        target: { group: { id, domain_id: g?.domainId ?? null } },
      });
      if (!g) throw notFound('group', id);
      return g;
    },
    async createGroup(ctx: AuthContext, input: GroupInput): Promise<Group> {
      const domainId = input.domainId ?? impliedDomain(ctx);
      enforce(ctx, 'identity:create_group', { target: { group: { domain_id: domainId } } });
      await bodyDomain(domainId);
      const created = await users.insertGroup(db, {
        id: hexId(),
        name: input.name,
        domainId,
        description: input.description ?? '',
        extra: input.extra,
      });
      await notifications.resource('group', 'created', created.id);
      return created;
    },
    async updateGroup(ctx: AuthContext, id: string, p: Patch<GroupInput>): Promise<Group> {
      const cur = await users.getGroup(db, id);
      enforce(ctx, 'identity:update_group', {
        target: { group: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('group', id);
      if (p.domainId !== undefined && p.domainId !== cur.domainId)
        throw new BadRequest('Update of `domain_id` is not allowed.');
      const updated = await users.updateGroup(db, {
        ...cur,
        ...defined({ name: p.name, description: p.description }),
        extra: { ...cur.extra, ...p.extra },
      });
      await notifications.resource('group', 'updated', id);
      return updated;
    },
    async deleteGroup(ctx: AuthContext, id: string): Promise<void> {
      const cur = await users.getGroup(db, id);
      enforce(ctx, 'identity:delete_group', {
        target: { group: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('group', id);
      await inTransaction(db, async (tx) => {
        await roles.deleteAssignmentsOf(tx, id);
        await users.deleteGroup(tx, id);
      });
      await notifications.resource('group', 'deleted', id);
    },
    async listGroupUsers(ctx: AuthContext, groupId: string): Promise<User[]> {
      const g = await users.getGroup(db, groupId);
      enforce(ctx, 'identity:list_users_in_group', {
        target: { group: { id: groupId, domain_id: g?.domainId ?? null } },
      });
      if (!g) throw notFound('group', groupId);
      return users.listUsers(db, { ids: await users.userIdsInGroup(db, groupId) });
    },
    async listUserGroups(ctx: AuthContext, userId: string): Promise<Group[]> {
      const u = await users.getUser(db, userId);
      enforce(ctx, 'identity:list_groups_for_user', {
        target: { user: { id: userId, domain_id: u?.domainId ?? null } },
      });
      if (!u) throw notFound('user', userId);
      return users.listGroups(db, { ids: await users.groupIdsOfUser(db, userId) });
    },
    async membership(
      ctx: AuthContext,
      op: 'add' | 'remove' | 'check',
      groupId: string,
      userId: string,
    ): Promise<void> {
      const g = await users.getGroup(db, groupId);
      const action =
        op === 'add'
          ? 'identity:add_user_to_group'
          : op === 'remove'
            ? 'identity:remove_user_from_group'
            : 'identity:check_user_in_group';
      enforce(ctx, action, { target: { group: { id: groupId, domain_id: g?.domainId ?? null } } });
      if (!g) throw notFound('group', groupId);
      await requireUser(userId);
      if (op === 'add') {
        await users.addMember(db, groupId, userId);
        return notifications.membership(groupId, userId, 'added');
      }
      const present =
        op === 'remove'
          ? await users.removeMember(db, groupId, userId)
          : await users.isMember(db, groupId, userId);
      if (!present)
        throw new NotFound(
          `User ${userId} is not a member of group ${groupId}.`,
          'membership_not_found',
        );
      if (op === 'remove') await notifications.membership(groupId, userId, 'removed');
    },
  };
}
