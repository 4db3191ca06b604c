// User use cases: policy, password hashing and changes under the password rules (password-rules.ts),
// user options, and token revocation when access goes.
import * as users from '../../store/users.ts';
import * as roles from '../../store/roles.ts';
import {
  USER_OPTION_NAMES,
  type User,
  type UserOptionName,
  type UserOptions,
} from '../../model.ts';
import { inTransaction } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { hashPassword } from '../../../platform/auth/password.ts';
import { BadRequest, Forbidden, NubesError, Unauthorized } from '../../../platform/errors.ts';
import { hexId } from '../../../platform/ids.ts';
import { defined, notFound, type DirectoryCore, type Patch, type UserInput } from './common.ts';

/** `cur` with the options a request sets (true/false) or unsets (null); a 400 for an unknown one. */
function withOptions(cur: UserOptions, patch: UserInput['options']): UserOptions {
  if (!patch) return cur;
  const next: Partial<Record<UserOptionName, boolean>> = { ...cur };
  const known: readonly string[] = USER_OPTION_NAMES;
  for (const [name, value] of Object.entries(patch)) {
    if (!known.includes(name))
      throw new BadRequest(
        `Nubes has no user option ${name}; the options are ${USER_OPTION_NAMES.join(', ')}.`,
      );
    if (value === null) delete next[name as UserOptionName];
    else next[name as UserOptionName] = value;
  }
  return next;
}

export function userUseCases(core: DirectoryCore) {
  const { db, tokens, argon2, enforce, impliedDomain, bodyDomain, requireBodyProject } = core;
  const { notifications, passwordRules: rules } = core;
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
      const options = withOptions({}, input.options);
      if (input.password) rules.checkStrength(input.password);
      const created = await users.insertUser(db, {
        id: hexId(),
        name: input.name,
        domainId,
        enabled: input.enabled ?? true,
        defaultProjectId: input.defaultProjectId ?? null,
        passwordHash: input.password ? await hashPassword(input.password, argon2) : null,
        // An administrator chose it: with change_password_upon_first_use it is expired at once.
        passwordExpiresAt: input.password ? rules.expiresAt({ options }, 'admin') : null,
        options,
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
      const options = withOptions(cur.options, p.options);
      if (p.password) rules.checkStrength(p.password);
      const passwordChanged = p.password !== undefined;
      const next: User = {
        ...cur,
        ...defined({ name: p.name, enabled: p.enabled, defaultProjectId: p.defaultProjectId }),
        ...(passwordChanged
          ? {
              passwordHash: p.password ? await hashPassword(p.password, argon2) : null,
              // An administrator's reset: expired at once under change_password_upon_first_use.
              passwordExpiresAt: p.password ? rules.expiresAt({ options }, 'admin') : null,
            }
          : {}),
        options,
        extra: { ...cur.extra, ...p.extra },
      };
      await inTransaction(db, (tx) =>
        users.updateUser(
          tx,
          next,
          passwordChanged ? { selfService: false, keepHistory: rules.historyToKeep } : undefined,
        ),
      );
      // Setting enabled is how an administrator unlocks a user, as in Keystone.
      if (p.enabled === true) await rules.onEnabled(id);
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
      // Proving the original is a sign-in (a wrong one counts toward the lockout), except that an
      // expired password may be changed: that is how its user gets a working one.
      try {
        await rules.signIn(cur, original, { allowExpired: true });
      } catch (e) {
        if (e instanceof NubesError && e.code === 'authentication_failed')
          throw new Unauthorized(
            'The original password is not correct, or this user cannot sign in.',
            'authentication_failed',
          );
        throw e;
      }
      await rules.checkOwnChange(cur, password);
      const next: User = {
        ...cur,
        passwordHash: await hashPassword(password, argon2),
        passwordExpiresAt: rules.expiresAt(cur, 'self'),
      };
      await inTransaction(db, (tx) =>
        users.updateUser(tx, next, { selfService: true, keepHistory: rules.historyToKeep }),
      );
      await tokens.revokeUserTokens(id);
      await notifications.resource('user', 'updated', id);
    },
  };
}
