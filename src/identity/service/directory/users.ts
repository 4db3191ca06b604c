// User use cases: policy, password hashing and changes, and token revocation when access goes.
import * as users from '../../store/users.ts';
import * as roles from '../../store/roles.ts';
import type { User } from '../../model.ts';
import { inTransaction } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { hashPassword, verifyPassword } from '../../../platform/auth/password.ts';
import { BadRequest, Forbidden, Unauthorized } from '../../../platform/errors.ts';
import { hexId } from '../../../platform/ids.ts';
import { defined, notFound, type DirectoryCore, type Patch, type UserInput } from './common.ts';

export function userUseCases(core: DirectoryCore) {
  const { db, tokens, argon2, enforce, impliedDomain, bodyDomain, requireBodyProject } = core;
  const { notifications } = core;
  return {
    async listUsers(
      ctx: AuthContext,
      f: { name?: string; domainId?: string; enabled?: boolean },
    ): Promise<User[]> {
      enforce(ctx, 'identity:list_users', {
        target: { domain_id: f.domainId ?? null },
        domain_id: f.domainId ?? null,
      });
      return users.listUsers(db, f);
    },
    async getUser(ctx: AuthContext, id: string): Promise<User> {
      const u = await users.getUser(db, id);
      enforce(ctx, 'identity:get_user', {
        target: { user: { id, domain_id: u?.domainId ?? null } },
      });
      if (!u) throw notFound('user', id);
      return u;
    },
    async createUser(ctx: AuthContext, input: UserInput): Promise<User> {
      const domainId = input.domainId ?? impliedDomain(ctx);
      enforce(ctx, 'identity:create_user', { target: { user: { domain_id: domainId } } });
      await bodyDomain(domainId);
      if (input.defaultProjectId) await requireBodyProject(input.defaultProjectId);
      const created = await users.insertUser(db, {
        id: hexId(),
        name: input.name,
        domainId,
        enabled: input.enabled ?? true,
        defaultProjectId: input.defaultProjectId ?? null,
        passwordHash: input.password ? await hashPassword(input.password, argon2) : null,
        passwordExpiresAt: null,
        extra: input.extra,
      });
      await notifications.resource('user', 'created', created.id);
      return created;
    },
    async updateUser(ctx: AuthContext, id: string, p: Patch<UserInput>): Promise<User> {
      const cur = await users.getUser(db, id);
      enforce(ctx, 'identity:update_user', {
        target: { user: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('user', id);
      if (p.domainId !== undefined && p.domainId !== cur.domainId)
        throw new BadRequest('Update of `domain_id` is not allowed.');
      if (p.defaultProjectId) await requireBodyProject(p.defaultProjectId);
      const passwordChanged = p.password !== undefined;
      const next = await users.updateUser(
        db,
        {
          ...cur,
          ...defined({ name: p.name, enabled: p.enabled, defaultProjectId: p.defaultProjectId }),
          ...(passwordChanged
            ? {
                passwordHash: p.password ? await hashPassword(p.password, argon2) : null,
                passwordExpiresAt: null,
              }
            : {}),
          extra: { ...cur.extra, ...p.extra },
        },
        passwordChanged,
      );
      if (passwordChanged || (cur.enabled && !next.enabled)) await tokens.revokeUserTokens(id);
      await notifications.resource('user', 'updated', id);
      return next;
    },
    async deleteUser(ctx: AuthContext, id: string): Promise<void> {
      const cur = await users.getUser(db, id);
      enforce(ctx, 'identity:delete_user', {
        target: { user: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('user', id);
      await inTransaction(db, async (tx) => {
        await roles.deleteAssignmentsOf(tx, id);
        await users.deleteUser(tx, id);
      });
      await tokens.revokeUserTokens(id);
      await notifications.resource('user', 'deleted', id);
    },
    /** A user changes their own password, proving the original (Keystone's POST /v3/users/{id}/password). */
    async changePassword(
      ctx: AuthContext | undefined,
      id: string,
      original: string,
      password: string,
    ): Promise<void> {
      if (ctx && ctx.user.id !== id)
        throw new Forbidden(
          'You can only change your own password; an admin resets others with: openstack user set --password.',
        );
      const cur = await users.getUser(db, id);
      if (!cur) throw notFound('user', id);
      if (!cur.passwordHash || !(await verifyPassword(original, cur.passwordHash))) {
        throw new Unauthorized('The original password is not correct.', 'authentication_failed');
      }
      await users.updateUser(
        db,
        { ...cur, passwordHash: await hashPassword(password, argon2), passwordExpiresAt: null },
        true,
      );
      await tokens.revokeUserTokens(id);
      await notifications.resource('user', 'updated', id);
    },
  };
}
