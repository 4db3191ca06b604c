// Authentication and tokens: password, token (re-scope) and application-credential methods;
// project, domain and system scope; validation on every request; revocation; key rotation.
// Tokens carry no database row: validation re-checks the user, the scope and the roles each time.
import type { DbHandle } from '../../platform/db/database.ts';
import * as dirs from '../store/domains.ts';
import * as users from '../store/users.ts';
import * as creds from '../store/credentials.ts';
import * as meta from '../store/meta.ts';
import type { AppCredential, Domain, Project, User } from '../model.ts';
import type { AuthContext, AuthScope, NamedRef } from '../../platform/auth/context.ts';
import { credentialsOf } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { burnVerify, verifyPassword, type Argon2Params } from '../../platform/auth/password.ts';
import { Forbidden, NotFound, Unauthorized } from '../../platform/errors.ts';
import { effectiveRoles } from './role-resolver.ts';
import type { IdentityNotifications } from './notifications.ts';
import {
  TokenKeyRing,
  newAuditId,
  newTokenKey,
  type AuthMethod,
  type TokenClaims,
  type TokenKey,
  type TokenScope,
} from './token-format.ts';

export interface DomainSelector {
  readonly id?: string;
  readonly name?: string;
}
export interface UserSelector {
  readonly id?: string;
  readonly name?: string;
  readonly domain?: DomainSelector;
}
export type ScopeRequest =
  | { readonly kind: 'default' }
  | { readonly kind: 'unscoped' }
  | {
      readonly kind: 'project';
      readonly id?: string;
      readonly name?: string;
      readonly domain?: DomainSelector;
    }
  | { readonly kind: 'domain'; readonly id?: string; readonly name?: string }
  | { readonly kind: 'system' };

export interface AuthRequest {
  readonly methods: readonly string[];
  readonly password?: { readonly user: UserSelector & { readonly password: string } };
  readonly token?: { readonly id: string };
  readonly applicationCredential?: {
    readonly id?: string;
    readonly name?: string;
    readonly secret: string;
    readonly user?: UserSelector;
  };
  readonly scope: ScopeRequest;
}

export interface TokenConfig {
  readonly ttlSeconds: number;
  readonly maxActiveKeys: number;
  readonly argon2: Argon2Params;
}

const KEYS_META = 'token_keys';
const AUTH_FAILED = 'The request you have made requires authentication.';

const unauthorized = (msg = AUTH_FAILED) => new Unauthorized(msg, 'authentication_failed');

function encodeKeys(keys: readonly TokenKey[]): string {
  return JSON.stringify(keys.map((k) => ({ id: k.id, key: k.key.toString('base64') })));
}
function decodeKeys(text: string): TokenKey[] {
  return (JSON.parse(text) as { id: number; key: string }[]).map((k) => ({
    id: k.id,
    key: Buffer.from(k.key, 'base64'),
  }));
}

export function createTokenService(deps: {
  db: DbHandle;
  policy: Policy;
  config: TokenConfig;
  notifications?: IdentityNotifications;
}) {
  const { db, policy, config } = deps;
  let ring: TokenKeyRing | undefined;
  let ringLoadedAt = 0;

  async function loadRing(): Promise<TokenKeyRing> {
    let text = await meta.getMeta(db, KEYS_META);
    if (!text) {
      // First start: a primary and a staged key, like keystone-manage fernet_setup.
      await meta.insertMetaIfAbsent(db, KEYS_META, encodeKeys([newTokenKey(1), newTokenKey(2)]));
      text = (await meta.getMeta(db, KEYS_META))!;
    }
    ring = new TokenKeyRing(decodeKeys(text));
    ringLoadedAt = Date.now();
    return ring;
  }

  async function keyRing(token?: string): Promise<TokenKeyRing> {
    const r = ring ?? (await loadRing());
    // Another replica may have rotated: reload when a token names a key we do not hold, and
    // periodically so this replica starts sealing with the new primary.
    const keyId = token ? TokenKeyRing.keyIdOf(token) : undefined;
    if (
      (keyId !== undefined && !r.has(keyId) && Date.now() - ringLoadedAt > 1000) ||
      Date.now() - ringLoadedAt > 60_000
    )
      return loadRing();
    return r;
  }

  async function findDomain(sel: DomainSelector | undefined): Promise<Domain | undefined> {
    if (!sel) return undefined;
    if (sel.id !== undefined) return dirs.getDomain(db, sel.id);
    if (sel.name !== undefined) return dirs.getDomainByName(db, sel.name);
    return undefined;
  }

  async function findUser(sel: UserSelector): Promise<User | undefined> {
    if (sel.id !== undefined) return users.getUser(db, sel.id);
    const domain = await findDomain(sel.domain);
    if (!domain || sel.name === undefined) return undefined;
    return users.getUserByName(db, domain.id, sel.name);
  }

  async function checkUsable(user: User | undefined): Promise<{ user: User; domain: Domain }> {
    if (!user || !user.enabled) throw unauthorized();
    const domain = await dirs.getDomain(db, user.domainId);
    if (!domain || !domain.enabled) throw unauthorized();
    return { user, domain };
  }

  /** The password method. Like Keystone, a check of a known user is announced, whatever its outcome. */
  async function byPassword(req: NonNullable<AuthRequest['password']>): Promise<User> {
    const user = await findUser(req.user);
    if (!user) {
      await burnVerify(req.user.password, config.argon2);
      throw unauthorized();
    }
    let ok = false;
    let reason: string | undefined;
    try {
      if (!user.passwordHash) {
        await burnVerify(req.user.password, config.argon2);
        throw unauthorized();
      }
      if (!(await verifyPassword(req.user.password, user.passwordHash))) throw unauthorized();
      if (user.passwordExpiresAt !== null && user.passwordExpiresAt <= Date.now()) {
        reason = `The password is expired and needs to be changed for user: ${user.id}.`;
        throw unauthorized(reason);
      }
      const usable = (await checkUsable(user)).user;
      ok = true;
      return usable;
    } finally {
      await deps.notifications?.authenticated(user.id, ok, reason);
    }
  }

  async function byAppCred(
    req: NonNullable<AuthRequest['applicationCredential']>,
  ): Promise<{ user: User; appCred: AppCredential }> {
    let appCred: AppCredential | undefined;
    if (req.id !== undefined) appCred = await creds.getAppCred(db, req.id);
    else if (req.name !== undefined && req.user) {
      const owner = await findUser(req.user);
      appCred = owner ? await creds.getAppCredByName(db, owner.id, req.name) : undefined;
    }
    if (!appCred) {
      await burnVerify(req.secret, config.argon2);
      throw unauthorized();
    }
    if (!(await verifyPassword(req.secret, appCred.secretHash))) throw unauthorized();
    if (appCred.expiresAt !== null && appCred.expiresAt <= Date.now())
      throw unauthorized('The application credential has expired.');
    const { user } = await checkUsable(await users.getUser(db, appCred.userId));
    return { user, appCred };
  }

  /** Resolves the claims of a presented token to a full context, or a reason it is not valid. */
  async function resolve(token: string): Promise<AuthContext | string> {
    const claims = (await keyRing(token)).open(token);
    if (!claims) return 'not a token this cloud issued';
    if (claims.expiresAt <= Date.now()) return 'expired';
    const scope = claims.scope;
    if (
      await creds.isRevoked(db, {
        auditIds: claims.auditIds,
        userId: claims.userId,
        issuedAt: claims.issuedAt,
        appCredId: claims.appCredId,
        projectId: scope.kind === 'project' ? scope.projectId : null,
        domainId: scope.kind === 'domain' ? scope.domainId : null,
      })
    )
      return 'revoked';
    const user = await users.getUser(db, claims.userId);
    if (!user?.enabled) return 'user disabled or deleted';
    const userDomain = await dirs.getDomain(db, user.domainId);
    if (!userDomain?.enabled) return 'user domain disabled or deleted';
    let appCred: AppCredential | undefined;
    if (claims.appCredId) {
      appCred = await creds.getAppCred(db, claims.appCredId);
      if (!appCred) return 'application credential deleted';
    }
    const built = await buildContext(token, claims, user, userDomain, appCred);
    return built;
  }

  async function scopeTarget(
    scope: TokenScope,
  ): Promise<{ auth: AuthScope; project?: Project; domainId?: string } | string> {
    switch (scope.kind) {
      case 'unscoped':
        return { auth: { kind: 'unscoped' } };
      case 'system':
        return { auth: { kind: 'system' } };
      case 'domain': {
        const d = await dirs.getDomain(db, scope.domainId);
        if (!d?.enabled) return `domain ${scope.domainId} is disabled or deleted`;
        return { auth: { kind: 'domain', domain: { id: d.id, name: d.name } }, domainId: d.id };
      }
      case 'project': {
        const p = await dirs.getProject(db, scope.projectId);
        if (!p?.enabled) return `project ${scope.projectId} is disabled or deleted`;
        const d = await dirs.getDomain(db, p.domainId);
        if (!d?.enabled) return `domain ${p.domainId} is disabled or deleted`;
        return {
          auth: {
            kind: 'project',
            project: { id: p.id, name: p.name, domain: { id: d.id, name: d.name } },
          },
          project: p,
        };
      }
    }
  }

  async function buildContext(
    token: string,
    claims: TokenClaims,
    user: User,
    userDomain: Domain,
    appCred?: AppCredential,
  ): Promise<AuthContext | string> {
    const target = await scopeTarget(claims.scope);
    if (typeof target === 'string') return target;
    let roles: NamedRef[] = [];
    if (target.project)
      roles = await effectiveRoles(db, user.id, { kind: 'project', project: target.project });
    else if (target.domainId)
      roles = await effectiveRoles(db, user.id, { kind: 'domain', domainId: target.domainId });
    else if (claims.scope.kind === 'system')
      roles = await effectiveRoles(db, user.id, { kind: 'system' });
    if (appCred) {
      // An application credential delegates at most the roles it names, and only while the user still has them.
      const allowed = new Set(appCred.roles.map((r) => r.id));
      roles = roles.filter((r) => allowed.has(r.id));
    }
    roles = roles.map((r) => ({ id: r.id, name: r.name }));
    if (claims.scope.kind !== 'unscoped' && roles.length === 0) return 'no roles on the scope';
    const partial = {
      user: {
        id: user.id,
        name: user.name,
        domain: { id: userDomain.id, name: userDomain.name },
        passwordExpiresAt: user.passwordExpiresAt,
      },
      scope: target.auth,
      roles,
      methods: claims.methods,
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
      auditIds: claims.auditIds,
      appCred: appCred
        ? { id: appCred.id, name: appCred.name, restricted: !appCred.unrestricted }
        : null,
    };
    return { ...partial, token, credentials: credentialsOf(partial) };
  }

  async function requestedScope(req: ScopeRequest, user: User): Promise<TokenScope> {
    switch (req.kind) {
      case 'unscoped':
        return { kind: 'unscoped' };
      case 'system':
        return { kind: 'system' };
      case 'default': {
        if (!user.defaultProjectId) return { kind: 'unscoped' };
        const p = await dirs.getProject(db, user.defaultProjectId);
        // Keystone falls back to an unscoped token when the default project is unusable.
        if (
          !p?.enabled ||
          (await effectiveRoles(db, user.id, { kind: 'project', project: p })).length === 0
        )
          return { kind: 'unscoped' };
        return { kind: 'project', projectId: p.id };
      }
      case 'domain': {
        const d = await findDomain(req);
        if (!d) throw unauthorized(`Could not find domain: ${req.id ?? req.name}.`);
        return { kind: 'domain', domainId: d.id };
      }
      case 'project': {
        let p: Project | undefined;
        if (req.id !== undefined) p = await dirs.getProject(db, req.id);
        else {
          const d = await findDomain(req.domain);
          if (d && req.name !== undefined) p = await dirs.getProjectByName(db, d.id, req.name);
        }
        if (!p) throw unauthorized(`Could not find project: ${req.id ?? req.name}.`);
        return { kind: 'project', projectId: p.id };
      }
    }
  }

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
        agree(await byPassword(req.password));
      } else if (m === 'token') {
        if (!req.token)
          throw unauthorized('The token method needs an identity.token object with an id.');
        const ctx = await resolve(req.token.id);
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
        const r = await byAppCred(req.applicationCredential);
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
        const asked = await requestedScope(req.scope, authUser).catch(() => undefined);
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
      scope = await requestedScope(req.scope, authUser);
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
      expiresAt: parent ? parent.expiresAt : now + config.ttlSeconds * 1000,
      auditIds: parent ? [newAuditId(), parent.auditIds.at(-1)!] : [newAuditId()],
      appCredId: appCred?.id ?? null,
    };
    const token = (await keyRing()).seal(claims);
    const domain = (await dirs.getDomain(db, authUser.domainId))!;
    const ctx = await buildContext(token, claims, authUser, domain, appCred);
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
      const ctx = await resolve(token);
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
      const ctx = await resolve(subject);
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
      const ctx = await resolve(subject);
      if (typeof ctx === 'string')
        throw new NotFound(`Could not find token: ${subject.slice(0, 16)}...`, 'token_not_found');
      policy.enforce('identity:revoke_token', caller.credentials, {
        target: { token: { user_id: ctx.user.id } },
      });
      await creds.insertRevocation(db, { auditId: ctx.auditIds[0]!, issuedBefore: Date.now() });
    },

    /** Makes a new staged key, promotes the old staged one to primary, drops the oldest beyond the limit. */
    async rotateKeys(): Promise<{ primary: number; keys: number[] }> {
      const current = decodeKeys((await meta.getMeta(db, KEYS_META)) ?? encodeKeys([]));
      const nextId = Math.max(0, ...current.map((k) => k.id)) + 1;
      const keys = [...current, newTokenKey(nextId)]
        .sort((a, b) => a.id - b.id)
        .slice(-Math.max(3, config.maxActiveKeys));
      await meta.setMeta(db, KEYS_META, encodeKeys(keys));
      const r = await loadRing();
      return { primary: r.primaryId, keys: keys.map((k) => k.id) };
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
