// The authentication request and its methods: password and application credential (each checks
// the secret in constant work, known user or not), and the scope a request asks for.
import type { DbHandle } from '../../platform/db/database.ts';
import * as dirs from '../store/domains.ts';
import * as users from '../store/users.ts';
import * as creds from '../store/credentials.ts';
import type { AppCredential, Domain, Project, User } from '../model.ts';
import { burnVerify, verifyPassword, type Argon2Params } from '../../platform/auth/password.ts';
import { NubesError, Unauthorized } from '../../platform/errors.ts';
import { effectiveRoles } from './role-resolver.ts';
import type { IdentityNotifications } from './notifications.ts';
import type { TokenScope } from './token-format.ts';
import type { PasswordRules } from './password-rules.ts';

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

const AUTH_FAILED = 'The request you have made requires authentication.';

export const unauthorized = (msg = AUTH_FAILED) => new Unauthorized(msg, 'authentication_failed');

export function createAuthMethods(deps: {
  db: DbHandle;
  argon2: Argon2Params;
  /** The lockout and password rules the password method applies (password-rules.ts). */
  rules: PasswordRules;
  notifications?: IdentityNotifications | undefined;
}) {
  const { db, argon2, rules } = deps;

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

  return {
    /** The password method, under the password rules (lockout, expiry, ...). Like Keystone, a
     * check of a known user is announced, whatever its outcome, with the rule that refused it. */
    async byPassword(req: NonNullable<AuthRequest['password']>): Promise<User> {
      const user = await findUser(req.user);
      if (!user) {
        await burnVerify(req.user.password, argon2);
        throw unauthorized();
      }
      let ok = false;
      let reason: string | undefined;
      try {
        await rules.signIn(user, req.user.password, { allowExpired: false });
        const usable = (await checkUsable(user)).user;
        ok = true;
        return usable;
      } catch (e) {
        const why = e instanceof NubesError ? e.fields['auditReason'] : undefined;
        if (typeof why === 'string') reason = why;
        throw e;
      } finally {
        await deps.notifications?.authenticated(user.id, ok, reason);
      }
    },

    async byAppCred(
      req: NonNullable<AuthRequest['applicationCredential']>,
    ): Promise<{ user: User; appCred: AppCredential }> {
      let appCred: AppCredential | undefined;
      if (req.id !== undefined) appCred = await creds.getAppCred(db, req.id);
      else if (req.name !== undefined && req.user) {
        const owner = await findUser(req.user);
        appCred = owner ? await creds.getAppCredByName(db, owner.id, req.name) : undefined;
      }
      if (!appCred) {
        await burnVerify(req.secret, argon2);
        throw unauthorized();
      }
      if (!(await verifyPassword(req.secret, appCred.secretHash))) throw unauthorized();
      if (appCred.expiresAt !== null && appCred.expiresAt <= Date.now())
        throw unauthorized('The application credential has expired.');
      const { user } = await checkUsable(await users.getUser(db, appCred.userId));
      return { user, appCred };
    },

    /** The scope `req` names for `user`; 401 when it names no domain or project that exists. */
    async requestedScope(req: ScopeRequest, user: User): Promise<TokenScope> {
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
    },
  };
}
