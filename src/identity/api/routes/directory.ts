// /v3/domains, /v3/projects, /v3/users, /v3/groups and group membership.
import type { Api } from '../../../platform/http/mount.ts';
import { params, query as anyQuery } from '../../../platform/http/schema.ts';
import type { Identity } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { schemas, splitBody } from '../schemas.ts';
import { domainView, groupView, listLinks, projectView, userView } from '../views.ts';
import { present, query, queryBool, type BaseUrl } from './common.ts';

export function directoryRoutes(app: Api, identity: Identity, base: BaseUrl): void {
  const dir = identity.directory;

  // --- domains
  app.get('/domains', { schema: { querystring: anyQuery } }, async (request) => {
    const list = await dir.listDomains(
      request.auth,
      present({ name: query(request, 'name'), enabled: queryBool(request, 'enabled') }),
    );
    return {
      domains: list.map((d) => domainView(base(request), d)),
      links: listLinks(base(request), 'domains'),
    };
  });
  app.post('/domains', { schema: { body: schemas.domainCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.domain, [
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
  app.get('/domains/:id', { schema: { params: params('id') } }, async (request) => ({
    domain: domainView(base(request), await dir.getDomain(request.auth, request.params.id)),
  }));
  app.patch(
    '/domains/:id',
    { schema: { params: params('id'), body: schemas.domainUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.domain, [
        'name',
        'description',
        'enabled',
        'tags',
      ]);
      const d = await dir.updateDomain(request.auth, request.params.id, {
        ...present({
          name: f['name'],
          description: f['description'] === null ? '' : f['description'],
          enabled: f['enabled'],
        }),
        extra,
      });
      return { domain: domainView(base(request), d) };
    },
  );
  app.delete('/domains/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await dir.deleteDomain(request.auth, request.params.id);
    return reply.code(204).send();
  });

  // --- projects
  const projectFields = [
    'name',
    'description',
    'enabled',
    'domain_id',
    'parent_id',
    'tags',
  ] as const;
  app.get('/projects', { schema: { querystring: anyQuery } }, async (request) => {
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
  app.post('/projects', { schema: { body: schemas.projectCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.project, projectFields);
    if (request.body.project.is_domain === true)
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
  app.get('/projects/:id', { schema: { params: params('id') } }, async (request) => ({
    project: projectView(base(request), await dir.getProject(request.auth, request.params.id)),
  }));
  app.patch(
    '/projects/:id',
    { schema: { params: params('id'), body: schemas.projectUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.project, projectFields);
      const p = await dir.updateProject(request.auth, request.params.id, {
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
    },
  );
  app.delete('/projects/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await dir.deleteProject(request.auth, request.params.id);
    return reply.code(204).send();
  });

  // --- users
  const userFields = [
    'name',
    'domain_id',
    'password',
    'enabled',
    'default_project_id',
    'options',
  ] as const;
  app.get('/users', { schema: { querystring: anyQuery } }, async (request) => {
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
  app.post('/users', { schema: { body: schemas.userCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.user, userFields);
    const u = await dir.createUser(request.auth, {
      name: f['name'],
      extra,
      ...present({
        domainId: f['domain_id'],
        password: f['password'],
        enabled: f['enabled'],
        defaultProjectId: f['default_project_id'],
        options: f['options'],
      }),
    });
    return reply.code(201).send({ user: userView(base(request), u) });
  });
  app.get('/users/:id', { schema: { params: params('id') } }, async (request) => ({
    user: userView(base(request), await dir.getUser(request.auth, request.params.id)),
  }));
  app.patch(
    '/users/:id',
    { schema: { params: params('id'), body: schemas.userUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.user, userFields);
      const u = await dir.updateUser(request.auth, request.params.id, {
        extra,
        ...present({
          name: f['name'],
          domainId: f['domain_id'],
          password: f['password'],
          enabled: f['enabled'],
          defaultProjectId: f['default_project_id'],
          options: f['options'],
        }),
      });
      return { user: userView(base(request), u) };
    },
  );
  app.delete('/users/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await dir.deleteUser(request.auth, request.params.id);
    return reply.code(204).send();
  });
  app.post(
    '/users/:id/password',
    { config: { public: true }, schema: { params: params('id'), body: schemas.passwordChange } },
    async (request, reply) => {
      const b = request.body.user;
      const token = request.headers['x-auth-token'];
      const ctx = typeof token === 'string' ? await identity.authenticate(token) : undefined;
      await dir.changePassword(ctx, request.params.id, b['original_password'], b['password']);
      return reply.code(204).send();
    },
  );
  app.get('/users/:id/projects', { schema: { params: params('id') } }, async (request) => {
    const list = await dir.listUserProjects(request.auth, request.params.id);
    return {
      projects: list.map((p) => projectView(base(request), p)),
      links: listLinks(base(request), `users/${request.params.id}/projects`),
    };
  });
  app.get('/users/:id/groups', { schema: { params: params('id') } }, async (request) => {
    const list = await dir.listUserGroups(request.auth, request.params.id);
    return {
      groups: list.map((g) => groupView(base(request), g)),
      links: listLinks(base(request), `users/${request.params.id}/groups`),
    };
  });

  // --- groups
  app.get('/groups', { schema: { querystring: anyQuery } }, async (request) => {
    const list = await dir.listGroups(
      request.auth,
      present({ name: query(request, 'name'), domainId: query(request, 'domain_id') }),
    );
    return {
      groups: list.map((g) => groupView(base(request), g)),
      links: listLinks(base(request), 'groups'),
    };
  });
  app.post('/groups', { schema: { body: schemas.groupCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.group, [
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
  app.get('/groups/:id', { schema: { params: params('id') } }, async (request) => ({
    group: groupView(base(request), await dir.getGroup(request.auth, request.params.id)),
  }));
  app.patch(
    '/groups/:id',
    { schema: { params: params('id'), body: schemas.groupUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.group, [
        'name',
        'domain_id',
        'description',
      ]);
      const g = await dir.updateGroup(request.auth, request.params.id, {
        extra,
        ...present({
          name: f['name'],
          domainId: f['domain_id'],
          description: f['description'] === null ? '' : f['description'],
        }),
      });
      return { group: groupView(base(request), g) };
    },
  );
  app.delete('/groups/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await dir.deleteGroup(request.auth, request.params.id);
    return reply.code(204).send();
  });
  app.get('/groups/:id/users', { schema: { params: params('id') } }, async (request) => {
    const list = await dir.listGroupUsers(request.auth, request.params.id);
    return {
      users: list.map((u) => userView(base(request), u)),
      links: listLinks(base(request), `groups/${request.params.id}/users`),
    };
  });
  app.put(
    '/groups/:gid/users/:uid',
    { schema: { params: params('gid', 'uid') } },
    async (request, reply) => {
      await dir.membership(request.auth, 'add', request.params.gid, request.params.uid);
      return reply.code(204).send();
    },
  );
  app.get(
    '/groups/:gid/users/:uid',
    { schema: { params: params('gid', 'uid') } },
    async (request, reply) => {
      await dir.membership(request.auth, 'check', request.params.gid, request.params.uid);
      return reply.code(204).send();
    },
  );
  app.delete(
    '/groups/:gid/users/:uid',
    { schema: { params: params('gid', 'uid') } },
    async (request, reply) => {
      await dir.membership(request.auth, 'remove', request.params.gid, request.params.uid);
      return reply.code(204).send();
    },
  );
}
