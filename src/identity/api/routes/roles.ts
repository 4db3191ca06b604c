// /v3/roles, implied roles (/v3/roles/{id}/implies, /v3/role_inferences), grants on projects,
// domains and the system (plus OS-INHERIT), and /v3/role_assignments.
import type { FastifyRequest } from 'fastify';
import type { Api } from '../../../platform/http/mount.ts';
import { params, query as anyQuery, s, type Static } from '../../../platform/http/schema.ts';
import type { Identity } from '../../index.ts';
import type { Grant, GrantActor, GrantTarget } from '../../service/roles.ts';
import type { Role } from '../../model.ts';
import { schemas, splitBody } from '../schemas.ts';
import { assignmentView, link, listLinks, roleRef, roleView } from '../views.ts';
import type { NameBook } from '../../service/assignments.ts';
import { present, query, queryBool, type BaseUrl } from './common.ts';

export function roleRoutes(app: Api, identity: Identity, base: BaseUrl): void {
  const svc = identity.roles;

  app.get('/roles', { schema: { querystring: anyQuery } }, async (request) => {
    const domainId = query(request, 'domain_id');
    const list = await svc.listRoles(
      request.auth,
      present({ name: query(request, 'name'), domainId }),
    );
    return {
      roles: list.map((r) => roleView(base(request), r)),
      links: listLinks(base(request), 'roles'),
    };
  });
  app.post('/roles', { schema: { body: schemas.roleCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.role, ['name', 'domain_id', 'description']);
    const options = request.body.role.options;
    const r = await svc.createRole(request.auth, {
      name: f['name'],
      extra,
      ...present({ domainId: f['domain_id'], description: f['description'] ?? undefined, options }),
    });
    return reply.code(201).send({ role: roleView(base(request), r) });
  });
  app.get('/roles/:id', { schema: { params: params('id') } }, async (request) => ({
    role: roleView(base(request), await svc.getRole(request.auth, request.params.id)),
  }));
  app.patch(
    '/roles/:id',
    { schema: { params: params('id'), body: schemas.roleUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.role, [
        'name',
        'domain_id',
        'description',
      ]);
      const options = request.body.role.options;
      const r = await svc.updateRole(request.auth, request.params.id, {
        extra,
        ...present({
          name: f['name'],
          domainId: f['domain_id'],
          description: f['description'] === null ? '' : f['description'],
          options,
        }),
      });
      return { role: roleView(base(request), r) };
    },
  );
  app.delete('/roles/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await svc.deleteRole(request.auth, request.params.id);
    return reply.code(204).send();
  });

  // --- implied roles
  const inference = (request: FastifyRequest, prior: Role, implies: Role[] | Role) => ({
    prior_role: roleRef(base(request), prior),
    implies: Array.isArray(implies)
      ? implies.map((r) => roleRef(base(request), r))
      : roleRef(base(request), implies),
  });
  app.get('/roles/:prior/implies', { schema: { params: params('prior') } }, async (request) => {
    const [rule] = await svc.listImplied(request.auth, request.params.prior);
    return {
      role_inference: inference(request, rule!.prior, rule!.implies),
      links: link(base(request), `roles/${request.params.prior}/implies`),
    };
  });
  app.put(
    '/roles/:prior/implies/:implied',
    { schema: { params: params('prior', 'implied') } },
    async (request, reply) => {
      const { prior, implied } = await svc.createImplied(
        request.auth,
        request.params.prior,
        request.params.implied,
      );
      return reply.code(201).send({
        role_inference: inference(request, prior, implied),
        links: link(base(request), `roles/${prior.id}/implies/${implied.id}`),
      });
    },
  );
  app.get(
    '/roles/:prior/implies/:implied',
    { schema: { params: params('prior', 'implied') } },
    async (request, reply) => {
      const { prior, implied } = await svc.getImplied(
        request.auth,
        request.params.prior,
        request.params.implied,
      );
      if (request.method === 'HEAD') return reply.code(204).send();
      return {
        role_inference: inference(request, prior, implied),
        links: link(base(request), `roles/${prior.id}/implies/${implied.id}`),
      };
    },
  );
  app.delete(
    '/roles/:prior/implies/:implied',
    { schema: { params: params('prior', 'implied') } },
    async (request, reply) => {
      await svc.deleteImplied(request.auth, request.params.prior, request.params.implied);
      return reply.code(204).send();
    },
  );
  app.get('/role_inferences', async (request) => {
    const rules = await svc.listImplied(request.auth);
    return {
      role_inferences: rules.map((r) => inference(request, r.prior, r.implies)),
      links: listLinks(base(request), 'role_inferences'),
    };
  });

  // --- grants: one handler set for every (target, actor, inherited) combination; the target's
  // id (tid) is in the path of every target but the system.
  const listParams = s.object({ tid: s.string(), aid: s.string() }, { required: ['aid'] });
  const grantParams = s.object(
    { tid: s.string(), aid: s.string(), rid: s.string() },
    { required: ['aid', 'rid'] },
  );
  const combos: {
    path: string;
    target: (p: Static<typeof listParams>) => GrantTarget;
    inherited: boolean;
  }[] = [
    {
      path: '/projects/:tid',
      target: (p) => ({ kind: 'project', id: p.tid! }),
      inherited: false,
    },
    {
      path: '/domains/:tid',
      target: (p) => ({ kind: 'domain', id: p.tid! }),
      inherited: false,
    },
    { path: '/system', target: () => ({ kind: 'system' }), inherited: false },
    {
      path: '/OS-INHERIT/projects/:tid',
      target: (p) => ({ kind: 'project', id: p.tid! }),
      inherited: true,
    },
    {
      path: '/OS-INHERIT/domains/:tid',
      target: (p) => ({ kind: 'domain', id: p.tid! }),
      inherited: true,
    },
  ];
  for (const combo of combos) {
    for (const actorKind of ['users', 'groups'] as const) {
      const suffix = combo.inherited ? '/inherited_to_projects' : '';
      const prefix = `${combo.path}/${actorKind}/:aid/roles`;
      const grantOf = (p: Static<typeof grantParams>): Grant => {
        const actor: GrantActor = { kind: actorKind === 'users' ? 'user' : 'group', id: p.aid };
        return { actor, target: combo.target(p), roleId: p.rid, inherited: combo.inherited };
      };
      const grant = { schema: { params: grantParams } };
      app.put(`${prefix}/:rid${suffix}`, grant, async (request, reply) => {
        await svc.grant(request.auth, grantOf(request.params));
        return reply.code(204).send();
      });
      app.get(`${prefix}/:rid${suffix}`, grant, async (request, reply) => {
        await svc.checkGrant(request.auth, grantOf(request.params));
        return reply.code(204).send();
      });
      app.delete(`${prefix}/:rid${suffix}`, grant, async (request, reply) => {
        await svc.revoke(request.auth, grantOf(request.params));
        return reply.code(204).send();
      });
      app.get(`${prefix}${suffix}`, { schema: { params: listParams } }, async (request) => {
        const p = request.params;
        const actor: GrantActor = { kind: actorKind === 'users' ? 'user' : 'group', id: p.aid };
        const list = await svc.listGrants(request.auth, actor, combo.target(p), combo.inherited);
        return {
          roles: list.map((r) => roleView(base(request), r)),
          links: {
            self: `${base(request)}${request.url.split('?')[0]!.replace(/^\/identity/, '')}`,
            previous: null,
            next: null,
          },
        };
      });
    }
  }

  // --- role assignments
  app.get('/role_assignments', { schema: { querystring: anyQuery } }, async (request) => {
    const inheritedTo = query(request, 'scope.OS-INHERIT:inherited_to');
    const list = await identity.assignments.list(request.auth, {
      effective: queryBool(request, 'effective') ?? false,
      ...present({
        userId: query(request, 'user.id'),
        groupId: query(request, 'group.id'),
        roleId: query(request, 'role.id'),
        projectId: query(request, 'scope.project.id'),
        domainId: query(request, 'scope.domain.id'),
        system: query(request, 'scope.system') !== undefined ? true : undefined,
        inheritedToProjects: inheritedTo === undefined ? undefined : inheritedTo === 'projects',
      }),
    });
    const names = queryBool(request, 'include_names') ? await nameBook(identity, list) : undefined;
    return {
      role_assignments: list.map((a) => assignmentView(base(request), a, names)),
      links: { self: `${base(request)}/v3/role_assignments`, previous: null, next: null },
    };
  });
}

/** Names for include_names, loaded once per listing rather than per row. */
async function nameBook(
  identity: Identity,
  list: Awaited<ReturnType<Identity['assignments']['list']>>,
): Promise<NameBook> {
  return identity.assignments.names(list);
}
