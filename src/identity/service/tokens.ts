// The token service: issuing by method (the methods in auth-methods.ts), validation of presented
// tokens (token-context.ts, remembered by token-cache.ts), revocation, and key rotation
// (token-keys.ts). Tokens carry no database row: validation re-checks the user, the scope and the
// roles whenever the identity generation moved since it last did.
import type { DbHandle } from '../../platform/db/database.ts';
import * as dirs from '../store/domains.ts';
import * as users from '../store/users.ts';
import * as creds from '../store/credentials.ts';
import { identityGeneration } from '../store/generation.ts';
import type { AppCredential, User } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Argon2Params } from '../../platform/auth/password.ts';
import { Forbidden, NotFound } from '../../platform/errors.ts';
import type { IdentityNotifications } from './notifications.ts';
import { newAuditId, type AuthMethod, type TokenClaims, type TokenScope } from './token-format.ts';
import { createAuthMethods, unauthorized, type AuthRequest } from './auth-methods.ts';
import { createTokenContexts } from './token-context.ts';
import { createTokenKeys } from './token-keys.ts';
import type { PasswordRules } from './password-rules.ts';
import { createTokenCache } from './token-cache.ts';

export type { AuthRequest, DomainSelector, ScopeRequest, UserSelector } from './auth-methods.ts';

export interface TokenConfig {
  readonly ttlSeconds: number;
  readonly maxActiveKeys: number;
  readonly argon2: Argon2Params;
  readonly passwordRules: PasswordRules;
}

export function createTokenService(deps: {
  db: DbHandle;
  policy: Policy;
  config: TokenConfig;
  notifications?: IdentityNotifications;
}) {
  const { db, policy, config } = deps;
  const keys = createTokenKeys(db, config.maxActiveKeys);
  const contexts = createTokenContexts(db, keys);
  // Every way in (this API, image and compute through identity's authenticate, re-scoping,
  // revocation) resolves a presented token through the cache; see token-cache.ts for why that is safe.
  const cache = createTokenCache({
    generation: () => identityGeneration(db),
    resolve: (token) => contexts.resolve(token),
  });
  const auth = createAuthMethods({
    db,
    argon2: config.argon2,
    rules: config.passwordRules,
    notifications: deps.notifications,
  });

  async function issue(req: AuthRequest): Promise<AuthContext> {
    const methods = [...new Set(req.methods)];
    if (methods.length === 0)
      throw unauthorized(
        'No authentication methods were given; use password, token or application_credential.',
      );
    let user: User | undefined;
    let appCred: AppCredential | undefined;
    let parent: AuthContext | undefined;
    const agree = (u: User) => {
      if (user && user.id !== u.id)
        throw unauthorized('The authentication methods name different users.');
      user = u;
    };
    for (const m of methods) {
      if (m === 'password') {
        if (!req.password)
          throw unauthorized('The password method needs an identity.password object.');
        agree(await auth.byPassword(req.password));
      } else if (m === 'token') {
        if (!req.token)
          throw unauthorized('The token method needs an identity.token object with an id.');
        const ctx = await cache.resolve(req.token.id);
        if (typeof ctx === 'string')
          throw new NotFound(
            `Could not find token: ${req.token.id.slice(0, 16)}... (${ctx}).`,
            'token_not_found',
          );
        parent = ctx;
        agree((await users.getUser(db, ctx.user.id))!);
        if (ctx.appCred) appCred = await creds.getAppCred(db, ctx.appCred.id);
      } else if (m === 'application_credential') {
        if (!req.applicationCredential)
          throw unauthorized(
            'The application_credential method needs an identity.application_credential object.',
          );
        const r = await auth.byAppCred(req.applicationCredential);
        agree(r.user);
        appCred = r.appCred;
      } else {
        throw unauthorized(
          `Unsupported authentication method: ${m}. Use password, token or application_credential.`,
        );
      }
    }
    const authUser = user!;
    let scope: TokenScope;
    if (appCred) {
      // Application credentials are bound to their project; asking for any other scope fails.
      if (req.scope.kind !== 'default') {
        const asked = await auth.requestedScope(req.scope, authUser).catch(() => undefined);
        if (asked?.kind !== 'project' || asked.projectId !== appCred.projectId)
          throw unauthorized('Application credentials cannot request a scope.');
      }
      scope = { kind: 'project', projectId: appCred.projectId };
    } else if (req.scope.kind === 'default' && parent) {
      // Re-authenticating with a token and no scope keeps the token's own scope.
      scope =
        parent.scope.kind === 'project'
          ? { kind: 'project', projectId: parent.scope.project.id }
          : parent.scope.kind === 'domain'
            ? { kind: 'domain', domainId: parent.scope.domain.id }
            : parent.scope.kind === 'system'
              ? { kind: 'system' }
              : { kind: 'unscoped' };
    } else {
      scope = await auth.requestedScope(req.scope, authUser);
    }
    const now = Date.now();
    const authMethods = methods as AuthMethod[];
    const claims: TokenClaims = {
      userId: authUser.id,
      methods: parent
        ? [...new Set([...(parent.methods as AuthMethod[]), ...authMethods])]
        : authMethods,
      scope,
      issuedAt: now,
      // Never past the application credential's own expiry (CVE-2022-2447).
      expiresAt: Math.min(
        parent ? parent.expiresAt : now + config.ttlSeconds * 1000,
        appCred?.expiresAt ?? Infinity,
      ),
      auditIds: parent ? [newAuditId(), parent.auditIds.at(-1)!] : [newAuditId()],
      appCredId: appCred?.id ?? null,
    };
    const token = (await keys.keyRing()).seal(claims);
    const domain = (await dirs.getDomain(db, authUser.domainId))!;
    const ctx = await contexts.buildContext(token, claims, authUser, domain, appCred);
    if (typeof ctx === 'string') {
      if (ctx === 'no roles on the scope') {
        const what =
          scope.kind === 'project'
            ? `project ${scope.projectId}`
            : scope.kind === 'domain'
              ? `domain ${scope.domainId}`
              : 'the system';
        throw unauthorized(`User ${authUser.id} has no access to ${what}.`);
      }
      throw unauthorized(`Cannot scope the token: ${ctx}.`);
    }
    return ctx;
  }

  return {
    issue,

    /** The caller's token (X-Auth-Token): a context, or 401. */
    async authenticate(token: string | undefined): Promise<AuthContext> {
      if (!token) throw unauthorized();
      const ctx = await cache.resolve(token);
      if (typeof ctx === 'string') throw unauthorized();
      return ctx;
    },

    /** A token presented for validation (X-Subject-Token): a context, or 404 like Keystone. */
    async validate(
      caller: AuthContext,
      subject: string | undefined,
      action: 'identity:validate_token' | 'identity:check_token',
    ): Promise<AuthContext> {
      if (!subject)
        throw new NotFound(
          'Could not find token: the X-Subject-Token header is missing.',
          'token_not_found',
        );
      const ctx = await cache.resolve(subject);
      if (typeof ctx === 'string') {
        // Only callers who may validate any token learn why one is invalid.
        policy.enforce(action, caller.credentials, { target: { token: { user_id: null } } });
        throw new NotFound(`Could not find token: ${subject.slice(0, 16)}...`, 'token_not_found');
      }
      policy.enforce(action, caller.credentials, { target: { token: { user_id: ctx.user.id } } });
      return ctx;
    },

    async revoke(caller: AuthContext, subject: string | undefined): Promise<void> {
      if (!subject)
        throw new NotFound(
          'Could not find token: the X-Subject-Token header is missing.',
          'token_not_found',
        );
      const ctx = await cache.resolve(subject);
      if (typeof ctx === 'string')
        throw new NotFound(`Could not find token: ${subject.slice(0, 16)}...`, 'token_not_found');
      policy.enforce('identity:revoke_token', caller.credentials, {
        target: { token: { user_id: ctx.user.id } },
      });
      await creds.insertRevocation(db, { auditId: ctx.auditIds[0]!, issuedBefore: Date.now() });
    },

    /** Makes a new staged key, promotes the old staged one to primary, drops the oldest beyond the limit. */
    async rotateKeys(): Promise<{ primary: number; keys: number[] }> {
      return keys.rotate();
    },

    /** Revokes every token of a user issued until now (password change, disable, delete). */
    async revokeUserTokens(userId: string): Promise<void> {
      await creds.insertRevocation(db, { userId, issuedBefore: Date.now() });
    },
    async revokeProjectTokens(projectId: string): Promise<void> {
      await creds.insertRevocation(db, { projectId, issuedBefore: Date.now() });
    },
    async revokeDomainTokens(domainId: string): Promise<void> {
      await creds.insertRevocation(db, { domainId, issuedBefore: Date.now() });
    },
    async pruneRevocations(): Promise<void> {
      await creds.pruneRevocations(db, config.ttlSeconds * 1000 + 60_000);
    },
    assertNotAppCredential(caller: AuthContext, what: string): void {
      if (caller.appCred?.restricted)
        throw new Forbidden(`A token from a restricted application credential cannot ${what}.`);
    },
  };
}

export type TokenServiceApi = ReturnType<typeof createTokenService>;
