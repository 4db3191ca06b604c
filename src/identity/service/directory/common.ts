// What the directory's use cases (domains, projects, users, groups, scopes) share: their deps, the
// request inputs, and the lookups that answer 404 (or 400 for a body naming what does not exist).
import * as dirs from '../../store/domains.ts';
import * as users from '../../store/users.ts';
import type { Domain, Extra, Group, Project, User } from '../../model.ts';
import type { DbHandle } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import type { Policy } from '../../../platform/policy/policy.ts';
import type { Argon2Params } from '../../../platform/auth/password.ts';
import { BadRequest, NotFound } from '../../../platform/errors.ts';
import { DEFAULT_DOMAIN_ID } from '../../../platform/ids.ts';
import type { TokenServiceApi } from '../tokens.ts';
import type { IdentityNotifications } from '../notifications.ts';
import type { PasswordRules } from '../password-rules.ts';

/** What every directory use case needs: the database handle, policy, tokens and hashing. */
export interface DirectoryDeps {
  readonly db: DbHandle;
  readonly policy: Policy;
  readonly tokens: TokenServiceApi;
  readonly argon2: Argon2Params;
  readonly passwordRules: PasswordRules;
  readonly notifications: IdentityNotifications;
}

export interface DomainInput {
  readonly name: string;
  readonly description?: string;
  readonly enabled?: boolean;
  readonly extra: Extra;
}
export interface ProjectInput {
  readonly name: string;
  readonly domainId?: string;
  readonly parentId?: string | null;
  readonly description?: string;
  readonly enabled?: boolean;
  readonly tags?: readonly string[];
  readonly extra: Extra;
}
export interface UserInput {
  readonly name: string;
  readonly domainId?: string;
  readonly password?: string | null;
  readonly enabled?: boolean;
  readonly defaultProjectId?: string | null;
  /** Options to set (true/false) or unset (null); checked against the names the model knows. */
  readonly options?: Readonly<Record<string, boolean | null>>;
  readonly extra: Extra;
}
export interface GroupInput {
  readonly name: string;
  readonly domainId?: string;
  readonly description?: string;
  readonly extra: Extra;
}
export type Patch<T> = { readonly [K in keyof T]?: T[K] };

export const notFound = (kind: string, id: string) =>
  new NotFound(`Could not find ${kind}: ${id}.`, `${kind}_not_found`);

export function directoryCore(deps: DirectoryDeps) {
  const { db, policy } = deps;
  const enforce = (ctx: AuthContext, action: string, target: Record<string, unknown> = {}) =>
    policy.enforce(action, ctx.credentials, target);

  /** The domain a create lands in when none is named: the caller's scope domain, else default. */
  const impliedDomain = (ctx: AuthContext): string =>
    ctx.scope.kind === 'project'
      ? ctx.scope.project.domain.id
      : ctx.scope.kind === 'domain'
        ? ctx.scope.domain.id
        : DEFAULT_DOMAIN_ID;

  async function requireDomain(id: string): Promise<Domain> {
    const d = await dirs.getDomain(db, id);
    if (!d) throw notFound('domain', id);
    return d;
  }
  async function requireProject(id: string): Promise<Project> {
    const p = await dirs.getProject(db, id);
    if (!p) throw notFound('project', id);
    return p;
  }
  async function requireUser(id: string): Promise<User> {
    const u = await users.getUser(db, id);
    if (!u) throw notFound('user', id);
    return u;
  }
  async function requireGroup(id: string): Promise<Group> {
    const g = await users.getGroup(db, id);
    if (!g) throw notFound('group', id);
    return g;
  }
  /** A domain named in a request body must exist: a 400, as the body is what is wrong. */
  async function bodyDomain(id: string): Promise<Domain> {
    const d = await dirs.getDomain(db, id);
    if (!d)
      throw new BadRequest(
        `Could not find domain: ${id}. Create it first or name an existing domain.`,
        'domain_not_found',
      );
    return d;
  }
  /** A project named in a request body must exist: a 400. */
  async function requireBodyProject(id: string): Promise<void> {
    if (!(await dirs.getProject(db, id)))
      throw new BadRequest(`Could not find project: ${id}.`, 'project_not_found');
  }

  return {
    ...deps,
    enforce,
    impliedDomain,
    requireDomain,
    requireProject,
    requireUser,
    requireGroup,
    bodyDomain,
    requireBodyProject,
  };
}

export type DirectoryCore = ReturnType<typeof directoryCore>;

/** Drops undefined fields so a patch only overwrites what the request named. */
export function defined<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
