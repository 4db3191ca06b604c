// /v3/roles, implied roles (/v3/roles/{id}/implies, /v3/role_inferences), grants on projects,
// domains and the system (plus OS-INHERIT), and /v3/role_assignments.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../../index.ts';
import type { Grant, GrantActor, GrantTarget } from '../../service/roles.ts';
import type { Role } from '../../model.ts';
import { schemas, splitBody } from '../schemas.ts';
import { assignmentView, link, listLinks, roleRef, roleView } from '../views.ts';
import type { NameBook } from '../../service/assignments.ts';
import { inner, params, present, query, queryBool, type BaseUrl } from './common.ts';

export function roleRoutes(app: FastifyInstance, identity: Identity, base: BaseUrl): void {
  const svc = identity.roles;

  app.get('/v3/roles', async (request) => {
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
  app.post('/v3/roles', { schema: { body: schemas.roleCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'role'), [
      'name',
      'domain_id',
      'description',
    ]);
    const options = inner<Record<string, unknown>>(request, 'role')['options'] as
      Record<string, unknown> | undefined;
    const r = await svc.createRole(request.auth, {
      name: f['name'],
      extra,
      ...present({ domainId: f['domain_id'], description: f['description'] ?? undefined, options }),
    });
    return reply.code(201).send({ role: roleView(base(request), r) });
  });
  app.get('/v3/roles/:id', async (request) => ({
    role: roleView(base(request), await svc.getRole(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/roles/:id', { schema: { body: schemas.roleUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'role'), [
      'name',
      'domain_id',
      'description',
    ]);
    const options = inner<Record<string, unknown>>(request, 'role')['options'] as
      Record<string, unknown> | undefined;
    const r = await svc.updateRole(request.auth, params(request)['id']!, {
      extra,
      ...present({
        name: f['name'],
        domainId: f['domain_id'],
        description: f['description'] === null ? '' : f['description'],
        options,
      }),
    });
    return { role: roleView(base(request), r) };
  });
  app.delete('/v3/roles/:id', async (request, reply) => {
    await svc.deleteRole(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });

  // --- implied roles
  const inference = (request: FastifyRequest, prior: Role, implies: Role[] | Role) => ({
    prior_role: roleRef(base(request), prior),
    implies: Array.isArray(implies)
      ? implies.map((r) => roleRef(base(request), r))
      : roleRef(base(request), implies),
  });
  app.get('/v3/roles/:prior/implies', async (request) => {
    const [rule] = await svc.listImplied(request.auth, params(request)['prior']!);
    return {
      role_inference: inference(request, rule!.prior, rule!.implies),
      links: link(base(request), `roles/${params(request)['prior']}/implies`),
    };
  });
  app.put('/v3/roles/:prior/implies/:implied', async (request, reply) => {
    const { prior, implied } = await svc.createImplied(
      request.auth,
      params(request)['prior']!,
      params(request)['implied']!,
    );
    return reply.code(201).send({
      role_inference: inference(request, prior, implied),
      links: link(base(request), `roles/${prior.id}/implies/${implied.id}`),
    });
  });
  app.get('/v3/roles/:prior/implies/:implied', async (request, reply) => {
    const { prior, implied } = await svc.getImplied(
      request.auth,
      params(request)['prior']!,
      params(request)['implied']!,
    );
    if (request.method === 'HEAD') return reply.code(204).send();
    return {
      role_inference: inference(request, prior, implied),
      links: link(base(request), `roles/${prior.id}/implies/${implied.id}`),
    };
  });
  app.delete('/v3/roles/:prior/implies/:implied', async (request, reply) => {
    await svc.deleteImplied(request.auth, params(request)['prior']!, params(request)['implied']!);
    return reply.code(204).send();
  });
  app.get('/v3/role_inferences', async (request) => {
    const rules = await svc.listImplied(request.auth);
    return {
      role_inferences: rules.map((r) => inference(request, r.prior, r.implies)),
      links: listLinks(base(request), 'role_inferences'),
    };
  });

  // --- grants: one handler set for every (target, actor, inherited) combination
  const combos: {
    path: string;
    target: (p: Record<string, string>) => GrantTarget;
    inherited: boolean;
  }[] = [
    {
      path: '/v3/projects/:tid',
      target: (p) => ({ kind: 'project', id: p['tid']! }),
      inherited: false,
    },
    {
      path: '/v3/domains/:tid',
      target: (p) => ({ kind: 'domain', id: p['tid']! }),
      inherited: false,
    },
    { path: '/v3/system', target: () => ({ kind: 'system' }), inherited: false },
    {
      path: '/v3/OS-INHERIT/projects/:tid',
      target: (p) => ({ kind: 'project', id: p['tid']! }),
      inherited: true,
    },
    {
      path: '/v3/OS-INHERIT/domains/:tid',
      target: (p) => ({ kind: 'domain', id: p['tid']! }),
      inherited: true,
    },
  ];
  for (const combo of combos) {
    for (const actorKind of ['users', 'groups'] as const) {
      const suffix = combo.inherited ? '/inherited_to_projects' : '';
      const prefix = `${combo.path}/${actorKind}/:aid/roles`;
      const grantOf = (request: FastifyRequest): Grant => {
        const p = params(request);
        const actor: GrantActor = { kind: actorKind === 'users' ? 'user' : 'group', id: p['aid']! };
        return { actor, target: combo.target(p), roleId: p['rid']!, inherited: combo.inherited };
      };
      app.put(`${prefix}/:rid${suffix}`, async (request, reply) => {
        await svc.grant(request.auth, grantOf(request));
        return reply.code(204).send();
      });
      app.get(`${prefix}/:rid${suffix}`, async (request, reply) => {
        await svc.checkGrant(request.auth, grantOf(request));
        return reply.code(204).send();
      });
      app.delete(`${prefix}/:rid${suffix}`, async (request, reply) => {
        await svc.revoke(request.auth, grantOf(request));
        return reply.code(204).send();
      });
      app.get(`${prefix}${suffix}`, async (request) => {
        const p = params(request);
        const actor: GrantActor = { kind: actorKind === 'users' ? 'user' : 'group', id: p['aid']! };
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
  app.get('/v3/role_assignments', async (request) => {
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
