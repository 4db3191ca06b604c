// Domain use cases: policy, the default domain's protection, and the cascade a delete runs.
import * as dirs from '../../store/domains.ts';
import * as users from '../../store/users.ts';
import * as roles from '../../store/roles.ts';
import type { Domain } from '../../model.ts';
import { inTransaction } from '../../../platform/db/database.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { Forbidden } from '../../../platform/errors.ts';
import { DEFAULT_DOMAIN_ID, hexId } from '../../../platform/ids.ts';
import { defined, notFound, type DirectoryCore, type Patch, type DomainInput } from './common.ts';

export function domainUseCases(core: DirectoryCore) {
  const { db, tokens, enforce, requireDomain, notifications } = core;
  return {
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
      const created = await dirs.insertDomain(db, {
        id: hexId(),
        name: input.name,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        extra: input.extra,
      });
      await notifications.resource('domain', 'created', created.id);
      return created;
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
      await notifications.resource('domain', 'updated', id);
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
      // Keystone deletes what the domain owns along with it, and announces each deletion.
      const gone: ['user' | 'group' | 'project' | 'role', string][] = [];
      await inTransaction(db, async (tx) => {
        gone.length = 0; // a retried transaction starts over
        for (const u of await users.listUsers(tx, { domainId: id })) {
          await roles.deleteAssignmentsOf(tx, u.id);
          await users.deleteUser(tx, u.id);
          gone.push(['user', u.id]);
        }
        for (const g of await users.listGroups(tx, { domainId: id })) {
          await roles.deleteAssignmentsOf(tx, g.id);
          await users.deleteGroup(tx, g.id);
          gone.push(['group', g.id]);
        }
        for (const p of await dirs.listProjects(tx, { domainId: id })) {
          await roles.deleteAssignmentsOf(tx, p.id);
          await dirs.deleteProject(tx, p.id);
          gone.push(['project', p.id]);
        }
        for (const r of await roles.listRoles(tx, { domainId: id })) {
          await roles.deleteRole(tx, r.id);
          gone.push(['role', r.id]);
        }
        await roles.deleteAssignmentsOf(tx, id);
        await dirs.deleteDomain(tx, id);
      });
      await tokens.revokeDomainTokens(id);
      for (const [kind, gid] of gone) await notifications.resource(kind, 'deleted', gid);
      await notifications.resource('domain', 'deleted', id);
    },
  };
}
