// Application credentials: a user delegates some of their roles on one project to a secret that
// an application can authenticate with, without the user's password.
import type { DbHandle } from '../../platform/db/database.ts';
import { randomBytes } from 'node:crypto';
import * as creds from '../store/credentials.ts';
import * as roles from '../store/roles.ts';
import type { AppCredential } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { hashPassword, type Argon2Params } from '../../platform/auth/password.ts';
import { BadRequest, Forbidden, NotFound } from '../../platform/errors.ts';
import { hexId } from '../../platform/ids.ts';
import {
  ACCESS_RULE_METHODS,
  type AccessRule,
  type AccessRuleMethod,
} from '../../platform/auth/access-rules.ts';
import type { IdentityNotifications } from './notifications.ts';

const RULE_HELP =
  'each access rule is {"service": <service type>, "method": GET|HEAD|POST|PUT|PATCH|DELETE, "path": "/..."} or {"id": <an existing rule of yours>}';

/** The rules of a create request, checked as Keystone's schema does; ids of the user's existing
 * rules are reused (by id, or for the same service, method and path), new ones get an id. */
function accessRulesOf(input: readonly unknown[], existing: readonly AccessRule[]): AccessRule[] {
  return input.map((x, i) => {
    const bad = (why: string) => new BadRequest(`access_rules[${i}]: ${why}; ${RULE_HELP}.`);
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw bad('not an object');
    const r = x as Record<string, unknown>;
    const extra = Object.keys(r).find((k) => !['id', 'service', 'method', 'path'].includes(k));
    if (extra !== undefined) throw bad(`unknown field ${extra}`);
    const { id, service, method, path } = r;
    if (id !== undefined && typeof id !== 'string') throw bad('id is not a string');
    if (service === undefined && method === undefined && path === undefined) {
      const found = existing.find((e) => e.id === id);
      if (id === undefined || !found)
        throw new NotFound(
          `Could not find access rule: ${String(id)}; list yours with GET /v3/users/{user_id}/application_credentials.`,
          'access_rule_not_found',
        );
      return found;
    }
    if (typeof service !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(service))
      throw bad('service must be a service type such as compute or image');
    if (!ACCESS_RULE_METHODS.includes(method as AccessRuleMethod))
      throw bad(`method must be one of ${ACCESS_RULE_METHODS.join(', ')}`);
    if (typeof path !== 'string' || !path.startsWith('/') || path.length > 225)
      throw bad('path must start with / and be at most 225 characters');
    const same = existing.find(
      (e) => e.service === service && e.method === method && e.path === path,
    );
    return {
      id: same?.id ?? hexId(),
      service,
      method: method as AccessRuleMethod,
      path,
    };
  });
}

export interface AppCredInput {
  readonly name: string;
  readonly secret?: string;
  readonly description?: string;
  readonly expiresAt?: number | null;
  readonly roles?: readonly { readonly id?: string; readonly name?: string }[];
  readonly unrestricted?: boolean;
  readonly accessRules?: readonly unknown[];
}

export function createAppCredentialService(deps: {
  db: DbHandle;
  policy: Policy;
  argon2: Argon2Params;
  notifications: IdentityNotifications;
}) {
  const { db, policy, argon2, notifications } = deps;
  const target = (userId: string) => ({ target: { user: { id: userId } } });

  async function requireOwned(userId: string, id: string): Promise<AppCredential> {
    const a = await creds.getAppCred(db, id);
    if (!a || a.userId !== userId)
      throw new NotFound(
        `Could not find application credential: ${id}.`,
        'application_credential_not_found',
      );
    return a;
  }

  return {
    async create(
      ctx: AuthContext,
      userId: string,
      input: AppCredInput,
    ): Promise<{ appCred: AppCredential; secret: string }> {
      policy.enforce('identity:create_application_credential', ctx.credentials, target(userId));
      if (ctx.scope.kind !== 'project')
        throw new BadRequest(
          'Application credentials are created with a project-scoped token; authenticate with a project first.',
        );
      if (ctx.appCred?.restricted)
        throw new Forbidden(
          'A restricted application credential cannot create application credentials; create it with unrestricted=true or use a password.',
        );
      if (
        input.expiresAt !== undefined &&
        input.expiresAt !== null &&
        input.expiresAt <= Date.now()
      )
        throw new BadRequest('expires_at is in the past.');
      // Only roles the caller holds on the project now may be delegated; none named means all of them.
      let delegated = ctx.roles;
      if (input.roles && input.roles.length > 0) {
        delegated = input.roles.map((want) => {
          const held = ctx.roles.find(
            (r) =>
              (want.id !== undefined && r.id === want.id) ||
              (want.id === undefined && r.name === want.name),
          );
          if (!held)
            throw new Forbidden(
              `You do not hold role ${want.id ?? want.name} on project ${ctx.scope.kind === 'project' ? ctx.scope.project.id : ''}, so you cannot delegate it.`,
            );
          return held;
        });
      }
      const accessRules =
        input.accessRules && input.accessRules.length > 0
          ? accessRulesOf(input.accessRules, await creds.listUserAccessRules(db, userId))
          : [];
      const roleRows = await roles.listRoles(db, { ids: delegated.map((r) => r.id) });
      const secret = input.secret ?? randomBytes(64).toString('base64url');
      const appCred = await creds.insertAppCred(db, {
        id: hexId(),
        name: input.name,
        userId,
        projectId: ctx.scope.project.id,
        secretHash: await hashPassword(secret, argon2),
        description: input.description ?? '',
        expiresAt: input.expiresAt ?? null,
        unrestricted: input.unrestricted ?? false,
        roles: roleRows.map((r) => ({ id: r.id, name: r.name, domainId: r.domainId })),
        accessRules,
      });
      await notifications.resource('application_credential', 'created', appCred.id);
      return { appCred, secret };
    },
    async list(ctx: AuthContext, userId: string, name?: string): Promise<AppCredential[]> {
      policy.enforce('identity:list_application_credentials', ctx.credentials, target(userId));
      return creds.listAppCreds(db, userId, name);
    },
    async get(ctx: AuthContext, userId: string, id: string): Promise<AppCredential> {
      policy.enforce('identity:get_application_credential', ctx.credentials, target(userId));
      return requireOwned(userId, id);
    },
    async delete(ctx: AuthContext, userId: string, id: string): Promise<void> {
      policy.enforce('identity:delete_application_credential', ctx.credentials, target(userId));
      await requireOwned(userId, id);
      if (ctx.appCred?.restricted)
        throw new Forbidden(
          'A restricted application credential cannot delete application credentials.',
        );
      await creds.deleteAppCred(db, id);
      // Its tokens fail validation now (no credential), and this event tells every replica's cache.
      await creds.insertRevocation(db, { appCredId: id, issuedBefore: Date.now() });
      await notifications.resource('application_credential', 'deleted', id);
    },
  };
}

export type AppCredentialServiceApi = ReturnType<typeof createAppCredentialService>;
