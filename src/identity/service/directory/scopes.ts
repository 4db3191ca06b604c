// Where a user may scope a token: GET /v3/auth/projects, /domains, /system, and a user's projects.
import * as dirs from '../../store/domains.ts';
import * as users from '../../store/users.ts';
import * as roles from '../../store/roles.ts';
import type { Domain, Project } from '../../model.ts';
import type { DbHandle } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { notFound, type DirectoryCore } from './common.ts';
import { descendants } from './projects.ts';

export function scopeUseCases(core: DirectoryCore) {
  const { db, enforce } = core;
  return {
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
  };
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
