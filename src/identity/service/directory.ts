// Use cases for domains, projects, users and groups: policy, validation beyond the schema,
// cascades and token revocation when access is taken away.
import { inTransaction, type DbHandle } from '../../platform/db/database.ts';
import * as dirs from '../store/domains.ts';
import * as users from '../store/users.ts';
import * as roles from '../store/roles.ts';
import type { Domain, Extra, Group, Project, User } from '../model.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { hashPassword, verifyPassword, type Argon2Params } from '../../platform/auth/password.ts';
import { BadRequest, Forbidden, NotFound, Unauthorized } from '../../platform/errors.ts';
import { DEFAULT_DOMAIN_ID, hexId } from '../../platform/ids.ts';
import type { TokenServiceApi } from './tokens.ts';

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
  readonly extra: Extra;
}
export interface GroupInput {
  readonly name: string;
  readonly domainId?: string;
  readonly description?: string;
  readonly extra: Extra;
}
type Patch<T> = { readonly [K in keyof T]?: T[K] };

const notFound = (kind: string, id: string) =>
  new NotFound(`Could not find ${kind}: ${id}.`, `${kind}_not_found`);

export function createDirectoryService(deps: {
  db: DbHandle;
  policy: Policy;
  tokens: TokenServiceApi;
  argon2: Argon2Params;
}) {
  const { db, policy, tokens, argon2 } = deps;
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

  return {
    requireDomain,
    requireProject,
    requireUser,
    requireGroup,

    // --- domains
    async listDomains(
      ctx: AuthContext,
      f: { name?: string; enabled?: boolean },
    ): Promise<Domain[]> {
      enforce(ctx, 'identity:list_domains');
      return dirs.listDomains(db, f);
    },
    async getDomain(ctx: AuthContext, id: string): Promise<Domain> {
      const d = await dirs.getDomain(db, id);
      enforce(ctx, 'identity:get_domain', { target: { domain: { id } } });
      if (!d) throw notFound('domain', id);
      return d;
    },
    async createDomain(ctx: AuthContext, input: DomainInput): Promise<Domain> {
      enforce(ctx, 'identity:create_domain');
      return dirs.insertDomain(db, {
        id: hexId(),
        name: input.name,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        extra: input.extra,
      });
    },
    async updateDomain(ctx: AuthContext, id: string, p: Patch<DomainInput>): Promise<Domain> {
      enforce(ctx, 'identity:update_domain', { target: { domain: { id } } });
      const cur = await requireDomain(id);
      if (id === DEFAULT_DOMAIN_ID && p.enabled === false)
        throw new Forbidden('The default domain cannot be disabled.');
      const next = await dirs.updateDomain(db, {
        ...cur,
        ...defined({ name: p.name, description: p.description, enabled: p.enabled }),
        extra: { ...cur.extra, ...p.extra },
      });
      if (cur.enabled && !next.enabled) await tokens.revokeDomainTokens(id);
      return next;
    },
    async deleteDomain(ctx: AuthContext, id: string): Promise<void> {
      enforce(ctx, 'identity:delete_domain', { target: { domain: { id } } });
      const d = await requireDomain(id);
      if (id === DEFAULT_DOMAIN_ID) throw new Forbidden('The default domain cannot be deleted.');
      if (d.enabled)
        throw new Forbidden(
          `Cannot delete a domain that is enabled, please disable it first: openstack domain set --disable ${d.name}`,
        );
      // Keystone deletes what the domain owns along with it.
      await inTransaction(db, async (tx) => {
        for (const u of await users.listUsers(tx, { domainId: id })) {
          await roles.deleteAssignmentsOf(tx, u.id);
          await users.deleteUser(tx, u.id);
        }
        for (const g of await users.listGroups(tx, { domainId: id })) {
          await roles.deleteAssignmentsOf(tx, g.id);
          await users.deleteGroup(tx, g.id);
        }
        for (const p of await dirs.listProjects(tx, { domainId: id })) {
          await roles.deleteAssignmentsOf(tx, p.id);
          await dirs.deleteProject(tx, p.id);
        }
        for (const r of await roles.listRoles(tx, { domainId: id }))
          await roles.deleteRole(tx, r.id);
        await roles.deleteAssignmentsOf(tx, id);
        await dirs.deleteDomain(tx, id);
      });
      await tokens.revokeDomainTokens(id);
    },

    // --- projects
    async listProjects(ctx: AuthContext, f: dirs.ProjectFilter): Promise<Project[]> {
      enforce(ctx, 'identity:list_projects', {
        target: { domain_id: f.domainId ?? null },
        domain_id: f.domainId ?? null,
      });
      return dirs.listProjects(db, f);
    },
    async getProject(ctx: AuthContext, id: string): Promise<Project> {
      const p = await dirs.getProject(db, id);
      enforce(ctx, 'identity:get_project', {
        target: { project: { id, domain_id: p?.domainId ?? null } },
      });
      if (!p) throw notFound('project', id);
      return p;
    },
    async createProject(ctx: AuthContext, input: ProjectInput): Promise<Project> {
      let domainId = input.domainId ?? null;
      let parentId = input.parentId ?? null;
      if (parentId !== null) {
        const parent = await dirs.getProject(db, parentId);
        if (!parent)
          throw new BadRequest(`Could not find parent project: ${parentId}.`, 'project_not_found');
        if (domainId !== null && domainId !== parent.domainId)
          throw new BadRequest('A project must be in the same domain as its parent.');
        domainId = parent.domainId;
      }
      domainId ??= impliedDomain(ctx);
      enforce(ctx, 'identity:create_project', { target: { project: { domain_id: domainId } } });
      await bodyDomain(domainId);
      return dirs.insertProject(db, {
        id: hexId(),
        name: input.name,
        domainId,
        parentId,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        tags: input.tags ?? [],
        extra: input.extra,
      });
    },
    async updateProject(ctx: AuthContext, id: string, p: Patch<ProjectInput>): Promise<Project> {
      const cur = await dirs.getProject(db, id);
      enforce(ctx, 'identity:update_project', {
        target: { project: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('project', id);
      if (p.domainId !== undefined && p.domainId !== cur.domainId)
        throw new BadRequest('Update of `domain_id` is not allowed.');
      if (p.parentId !== undefined && p.parentId !== cur.parentId)
        throw new BadRequest('Update of `parent_id` is not allowed.');
      const next = await dirs.updateProject(db, {
        ...cur,
        ...defined({ name: p.name, description: p.description, enabled: p.enabled, tags: p.tags }),
        extra: { ...cur.extra, ...p.extra },
      });
      if (cur.enabled && !next.enabled) await tokens.revokeProjectTokens(id);
      return next;
    },
    async deleteProject(ctx: AuthContext, id: string): Promise<void> {
      const cur = await dirs.getProject(db, id);
      enforce(ctx, 'identity:delete_project', {
        target: { project: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('project', id);
      if ((await dirs.countChildren(db, id)) > 0)
        throw new Forbidden(
          `Cannot delete project ${id}: it has child projects; delete them first.`,
        );
      await inTransaction(db, async (tx) => {
        await roles.deleteAssignmentsOf(tx, id);
        await dirs.deleteProject(tx, id);
      });
      await tokens.revokeProjectTokens(id);
    },
    /** GET /v3/auth/projects, /domains, /system: where the caller may scope a token. */
    async authProjects(ctx: AuthContext): Promise<Project[]> {
      enforce(ctx, 'identity:get_auth_projects');
      return projectsOf(db, ctx.user.id);
    },
    async authDomains(ctx: AuthContext): Promise<Domain[]> {
      enforce(ctx, 'identity:get_auth_domains');
      const actors = [ctx.user.id, ...(await users.groupIdsOfUser(db, ctx.user.id))];
      const rows = await roles.listAssignments(db, {
        types: ['UserDomain', 'GroupDomain'],
        actorIds: actors,
        inherited: false,
      });
      return (
        await dirs.listDomains(db, { ids: [...new Set(rows.map((r) => r.targetId))] })
      ).filter((d) => d.enabled);
    },
    async authSystem(ctx: AuthContext): Promise<boolean> {
      enforce(ctx, 'identity:get_auth_system');
      const actors = [ctx.user.id, ...(await users.groupIdsOfUser(db, ctx.user.id))];
      return (
        (
          await roles.listAssignments(db, {
            types: ['UserSystem', 'GroupSystem'],
            actorIds: actors,
          })
        ).length > 0
      );
    },
    async listUserProjects(ctx: AuthContext, userId: string): Promise<Project[]> {
      const u = await users.getUser(db, userId);
      enforce(ctx, 'identity:list_user_projects', {
        target: { user: { id: userId, domain_id: u?.domainId ?? null } },
      });
      if (!u) throw notFound('user', userId);
      return projectsOf(db, userId);
    },

    // --- users
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
      return users.insertUser(db, {
        id: hexId(),
        name: input.name,
        domainId,
        enabled: input.enabled ?? true,
        defaultProjectId: input.defaultProjectId ?? null,
        passwordHash: input.password ? await hashPassword(input.password, argon2) : null,
        passwordExpiresAt: null,
        extra: input.extra,
      });
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
    },

    // --- groups
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
      return users.insertGroup(db, {
        id: hexId(),
        name: input.name,
        domainId,
        description: input.description ?? '',
        extra: input.extra,
      });
    },
    async updateGroup(ctx: AuthContext, id: string, p: Patch<GroupInput>): Promise<Group> {
      const cur = await users.getGroup(db, id);
      enforce(ctx, 'identity:update_group', {
        target: { group: { id, domain_id: cur?.domainId ?? null } },
      });
      if (!cur) throw notFound('group', id);
      if (p.domainId !== undefined && p.domainId !== cur.domainId)
        throw new BadRequest('Update of `domain_id` is not allowed.');
      return users.updateGroup(db, {
        ...cur,
        ...defined({ name: p.name, description: p.description }),
        extra: { ...cur.extra, ...p.extra },
      });
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
      if (op === 'add') return users.addMember(db, groupId, userId);
      const present =
        op === 'remove'
          ? await users.removeMember(db, groupId, userId)
          : await users.isMember(db, groupId, userId);
      if (!present)
        throw new NotFound(
          `User ${userId} is not a member of group ${groupId}.`,
          'membership_not_found',
        );
    },
  };

  async function requireBodyProject(id: string): Promise<void> {
    if (!(await dirs.getProject(db, id)))
      throw new BadRequest(`Could not find project: ${id}.`, 'project_not_found');
  }
}

/** Projects on which the user holds any role, directly, through a group, or inherited. */
export async function projectsOf(db: DbHandle, userId: string): Promise<Project[]> {
  const actors = [userId, ...(await users.groupIdsOfUser(db, userId))];
  const direct = await roles.listAssignments(db, {
    types: ['UserProject', 'GroupProject'],
    actorIds: actors,
  });
  const inherited = await roles.listAssignments(db, { actorIds: actors, inherited: true });
  const ids = new Set(direct.map((a) => a.targetId));
  for (const a of inherited) {
    const under = a.type.endsWith('Domain')
      ? await dirs.listProjects(db, { domainId: a.targetId })
      : await descendants(db, a.targetId);
    for (const p of under) ids.add(p.id);
  }
  return (await dirs.listProjects(db, { ids: [...ids] })).filter((p) => p.enabled);
}

export async function descendants(db: DbHandle, projectId: string): Promise<Project[]> {
  const out: Project[] = [];
  let frontier = [projectId];
  while (frontier.length > 0 && out.length < 10_000) {
    const next: string[] = [];
    for (const id of frontier)
      for (const c of await dirs.listProjects(db, { parentId: id })) {
        out.push(c);
        next.push(c.id);
      }
    frontier = next;
  }
  return out;
}

/** Drops undefined fields so a patch only overwrites what the request named. */
export function defined<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

export type DirectoryServiceApi = ReturnType<typeof createDirectoryService>;
