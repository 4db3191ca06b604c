// /v3/domains, /v3/projects, /v3/users, /v3/groups and group membership.
import type { FastifyInstance } from 'fastify';
import type { Identity } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { schemas, splitBody } from '../schemas.ts';
import { domainView, groupView, listLinks, projectView, userView } from '../views.ts';
import { inner, params, present, query, queryBool, type BaseUrl } from './common.ts';

type Obj = Record<string, any>;

export function directoryRoutes(app: FastifyInstance, identity: Identity, base: BaseUrl): void {
  const dir = identity.directory;

  // --- domains
  app.get('/v3/domains', async (request) => {
    const list = await dir.listDomains(
      request.auth,
      present({ name: query(request, 'name'), enabled: queryBool(request, 'enabled') }),
    );
    return {
      domains: list.map((d) => domainView(base(request), d)),
      links: listLinks(base(request), 'domains'),
    };
  });
  app.post('/v3/domains', { schema: { body: schemas.domainCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'domain'), [
      'name',
      'description',
      'enabled',
      'tags',
    ]);
    const d = await dir.createDomain(request.auth, {
      name: f['name'],
      ...present({ description: f['description'] ?? undefined, enabled: f['enabled'] }),
      extra,
    });
    return reply.code(201).send({ domain: domainView(base(request), d) });
  });
  app.get('/v3/domains/:id', async (request) => ({
    domain: domainView(base(request), await dir.getDomain(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/domains/:id', { schema: { body: schemas.domainUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'domain'), [
      'name',
      'description',
      'enabled',
      'tags',
    ]);
    const d = await dir.updateDomain(request.auth, params(request)['id']!, {
      ...present({
        name: f['name'],
        description: f['description'] === null ? '' : f['description'],
        enabled: f['enabled'],
      }),
      extra,
    });
    return { domain: domainView(base(request), d) };
  });
  app.delete('/v3/domains/:id', async (request, reply) => {
    await dir.deleteDomain(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });

  // --- projects
  const projectFields = ['name', 'description', 'enabled', 'domain_id', 'parent_id', 'tags'];
  app.get('/v3/projects', async (request) => {
    const list = await dir.listProjects(
      request.auth,
      present({
        name: query(request, 'name'),
        domainId: query(request, 'domain_id'),
        parentId: query(request, 'parent_id'),
        enabled: queryBool(request, 'enabled'),
      }),
    );
    return {
      projects: list.map((p) => projectView(base(request), p)),
      links: listLinks(base(request), 'projects'),
    };
  });
  app.post('/v3/projects', { schema: { body: schemas.projectCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'project'), projectFields);
    if ((request.body as Obj)['project']['is_domain'] === true)
      throw new BadRequest(
        'Projects acting as domains are not supported; create a domain instead: openstack domain create NAME.',
      );
    const p = await dir.createProject(request.auth, {
      name: f['name'],
      extra,
      ...present({
        description: f['description'] ?? undefined,
        enabled: f['enabled'],
        domainId: f['domain_id'],
        tags: f['tags'],
      }),
      // Keystone lets clients name the domain as the parent of a top-level project.
      ...(f['parent_id'] && f['parent_id'] !== f['domain_id'] ? { parentId: f['parent_id'] } : {}),
    });
    return reply.code(201).send({ project: projectView(base(request), p) });
  });
  app.get('/v3/projects/:id', async (request) => ({
    project: projectView(base(request), await dir.getProject(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/projects/:id', { schema: { body: schemas.projectUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'project'), projectFields);
    const p = await dir.updateProject(request.auth, params(request)['id']!, {
      extra,
      ...present({
        name: f['name'],
        description: f['description'] === null ? '' : f['description'],
        enabled: f['enabled'],
        domainId: f['domain_id'],
        tags: f['tags'],
      }),
    });
    return { project: projectView(base(request), p) };
  });
  app.delete('/v3/projects/:id', async (request, reply) => {
    await dir.deleteProject(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });

  // --- users
  const userFields = ['name', 'domain_id', 'password', 'enabled', 'default_project_id'];
  app.get('/v3/users', async (request) => {
    const list = await dir.listUsers(
      request.auth,
      present({
        name: query(request, 'name'),
        domainId: query(request, 'domain_id'),
        enabled: queryBool(request, 'enabled'),
      }),
    );
    return {
      users: list.map((u) => userView(base(request), u)),
      links: listLinks(base(request), 'users'),
    };
  });
  app.post('/v3/users', { schema: { body: schemas.userCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'user'), userFields);
    const u = await dir.createUser(request.auth, {
      name: f['name'],
      extra,
      ...present({
        domainId: f['domain_id'],
        password: f['password'],
        enabled: f['enabled'],
        defaultProjectId: f['default_project_id'],
      }),
    });
    return reply.code(201).send({ user: userView(base(request), u) });
  });
  app.get('/v3/users/:id', async (request) => ({
    user: userView(base(request), await dir.getUser(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/users/:id', { schema: { body: schemas.userUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'user'), userFields);
    const u = await dir.updateUser(request.auth, params(request)['id']!, {
      extra,
      ...present({
        name: f['name'],
        domainId: f['domain_id'],
        password: f['password'],
        enabled: f['enabled'],
        defaultProjectId: f['default_project_id'],
      }),
    });
    return { user: userView(base(request), u) };
  });
  app.delete('/v3/users/:id', async (request, reply) => {
    await dir.deleteUser(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });
  app.post(
    '/v3/users/:id/password',
    { config: { public: true }, schema: { body: schemas.passwordChange } },
    async (request, reply) => {
      const b = inner<Obj>(request, 'user');
      const token = request.headers['x-auth-token'];
      const ctx = typeof token === 'string' ? await identity.authenticate(token) : undefined;
      await dir.changePassword(ctx, params(request)['id']!, b['original_password'], b['password']);
      return reply.code(204).send();
    },
  );
  app.get('/v3/users/:id/projects', async (request) => {
    const list = await dir.listUserProjects(request.auth, params(request)['id']!);
    return {
      projects: list.map((p) => projectView(base(request), p)),
      links: listLinks(base(request), `users/${params(request)['id']}/projects`),
    };
  });
  app.get('/v3/users/:id/groups', async (request) => {
    const list = await dir.listUserGroups(request.auth, params(request)['id']!);
    return {
      groups: list.map((g) => groupView(base(request), g)),
      links: listLinks(base(request), `users/${params(request)['id']}/groups`),
    };
  });

  // --- groups
  app.get('/v3/groups', async (request) => {
    const list = await dir.listGroups(
      request.auth,
      present({ name: query(request, 'name'), domainId: query(request, 'domain_id') }),
    );
    return {
      groups: list.map((g) => groupView(base(request), g)),
      links: listLinks(base(request), 'groups'),
    };
  });
  app.post('/v3/groups', { schema: { body: schemas.groupCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'group'), [
      'name',
      'domain_id',
      'description',
    ]);
    const g = await dir.createGroup(request.auth, {
      name: f['name'],
      extra,
      ...present({ domainId: f['domain_id'], description: f['description'] ?? undefined }),
    });
    return reply.code(201).send({ group: groupView(base(request), g) });
  });
  app.get('/v3/groups/:id', async (request) => ({
    group: groupView(base(request), await dir.getGroup(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/groups/:id', { schema: { body: schemas.groupUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'group'), [
      'name',
      'domain_id',
      'description',
    ]);
    const g = await dir.updateGroup(request.auth, params(request)['id']!, {
      extra,
      ...present({
        name: f['name'],
        domainId: f['domain_id'],
        description: f['description'] === null ? '' : f['description'],
      }),
    });
    return { group: groupView(base(request), g) };
  });
  app.delete('/v3/groups/:id', async (request, reply) => {
    await dir.deleteGroup(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });
  app.get('/v3/groups/:id/users', async (request) => {
    const list = await dir.listGroupUsers(request.auth, params(request)['id']!);
    return {
      users: list.map((u) => userView(base(request), u)),
      links: listLinks(base(request), `groups/${params(request)['id']}/users`),
    };
  });
  app.put('/v3/groups/:gid/users/:uid', async (request, reply) => {
    await dir.membership(request.auth, 'add', params(request)['gid']!, params(request)['uid']!);
    return reply.code(204).send();
  });
  app.get('/v3/groups/:gid/users/:uid', async (request, reply) => {
    await dir.membership(request.auth, 'check', params(request)['gid']!, params(request)['uid']!);
    return reply.code(204).send();
  });
  app.delete('/v3/groups/:gid/users/:uid', async (request, reply) => {
    await dir.membership(request.auth, 'remove', params(request)['gid']!, params(request)['uid']!);
    return reply.code(204).send();
  });
}
