// Project use cases: policy, the parent and domain rules, and token revocation when a project
// is disabled or deleted; `descendants` walks the hierarchy.
import * as dirs from '../../store/domains.ts';
import * as roles from '../../store/roles.ts';
import type { Project } from '../../model.ts';
import { inTransaction, type DbHandle } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { BadRequest, Forbidden } from '../../../platform/errors.ts';
import { hexId } from '../../../platform/ids.ts';
import { defined, notFound, type DirectoryCore, type Patch, type ProjectInput } from './common.ts';

export function projectUseCases(core: DirectoryCore) {
  const { db, tokens, enforce, impliedDomain, bodyDomain, notifications } = core;
  return {
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
      const created = await dirs.insertProject(db, {
        id: hexId(),
        name: input.name,
        domainId,
        parentId,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        tags: input.tags ?? [],
        extra: input.extra,
      });
      await notifications.resource('project', 'created', created.id);
      return created;
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
      await notifications.resource('project', 'updated', id);
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
      await notifications.resource('project', 'deleted', id);
    },
  };
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
