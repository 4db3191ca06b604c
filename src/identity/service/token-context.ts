// Validation of a presented token: open it with the key ring, check expiry and revocations, then
// re-check the user, the scope and the roles (tokens carry no database row), giving a full context.
import type { DbHandle } from '../../platform/db/database.ts';
import * as dirs from '../store/domains.ts';
import * as users from '../store/users.ts';
import * as creds from '../store/credentials.ts';
import type { AppCredential, Domain, Project, User } from '../model.ts';
import type { AuthContext, AuthScope, NamedRef } from '../../platform/auth/context.ts';
import { credentialsOf } from '../../platform/auth/context.ts';
import { delegatedRoles, effectiveRoles } from './role-resolver.ts';
import type { TokenClaims, TokenScope } from './token-format.ts';
import type { TokenKeys } from './token-keys.ts';

export function createTokenContexts(db: DbHandle, keys: TokenKeys) {
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

  /** The context of `claims` as of now, or the reason it has none (e.g. 'no roles on the scope'). */
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
    if (appCred) roles = await delegatedRoles(db, roles, appCred);
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
      // No token outlives its application credential (CVE-2022-2447), even one sealed before the cap.
      expiresAt: Math.min(claims.expiresAt, appCred?.expiresAt ?? Infinity),
      auditIds: claims.auditIds,
      appCred: appCred
        ? {
            id: appCred.id,
            name: appCred.name,
            restricted: !appCred.unrestricted,
            accessRules: appCred.accessRules,
          }
        : null,
    };
    return { ...partial, token, credentials: credentialsOf(partial) };
  }

  /** Resolves the claims of a presented token to a full context, or a reason it is not valid. */
  async function resolve(token: string): Promise<AuthContext | string> {
    const claims = (await keys.keyRing(token)).open(token);
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
      if (appCred.expiresAt !== null && appCred.expiresAt <= Date.now())
        return 'application credential expired';
    }
    const built = await buildContext(token, claims, user, userDomain, appCred);
    return built;
  }

  return { resolve, buildContext };
}
