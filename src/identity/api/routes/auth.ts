// /v3/auth/*: issue, validate, check and revoke tokens; the token's catalog, projects, domains.
import type { Api } from '../../../platform/http/mount.ts';
import { query as anyQuery, type Static } from '../../../platform/http/schema.ts';
import type { Identity } from '../../index.ts';
import type { AuthRequest, ScopeRequest } from '../../service/tokens.ts';
import { authSchema } from '../schemas.ts';
import { catalogView, domainView, projectView, tokenView } from '../views.ts';
import { query, type BaseUrl } from './common.ts';

type AuthBody = Static<typeof authSchema>['auth'];

function parseScope(scope: AuthBody['scope']): ScopeRequest {
  if (scope === undefined) return { kind: 'default' };
  if (scope === 'unscoped') return { kind: 'unscoped' };
  if (scope.project) return { kind: 'project', ...scope.project };
  if (scope.domain) return { kind: 'domain', ...scope.domain };
  if (scope.system) return { kind: 'system' };
  return { kind: 'default' };
}

function parseAuth({ identity: i, scope }: AuthBody): AuthRequest {
  return {
    methods: i.methods,
    ...(i.password ? { password: i.password } : {}),
    ...(i.token ? { token: i.token } : {}),
    ...(i.application_credential ? { applicationCredential: i.application_credential } : {}),
    scope: parseScope(scope),
  };
}

export function authRoutes(app: Api, identity: Identity, base: BaseUrl): void {
  const { tokens, catalog } = identity;

  app.post(
    '/auth/tokens',
    { config: { public: true }, schema: { body: authSchema, querystring: anyQuery } },
    async (request, reply) => {
      const ctx = await tokens.issue(parseAuth(request.body.auth));
      const cat = query(request, 'nocatalog') === undefined ? await catalog.catalog() : undefined;
      return reply.code(201).header('x-subject-token', ctx.token).send(tokenView(ctx, cat));
    },
  );

  app.get('/auth/tokens', { schema: { querystring: anyQuery } }, async (request, reply) => {
    const subject = request.headers['x-subject-token'];
    const ctx = await tokens.validate(
      request.auth,
      typeof subject === 'string' ? subject : undefined,
      request.method === 'HEAD' ? 'identity:check_token' : 'identity:validate_token',
    );
    const cat = query(request, 'nocatalog') === undefined ? await catalog.catalog() : undefined;
    return reply.header('x-subject-token', ctx.token).send(tokenView(ctx, cat));
  });

  app.delete('/auth/tokens', async (request, reply) => {
    const subject = request.headers['x-subject-token'];
    await tokens.revoke(request.auth, typeof subject === 'string' ? subject : undefined);
    return reply.code(204).send();
  });

  app.get('/auth/catalog', async (request) => {
    const ctx = request.auth;
    return {
      catalog: ctx.scope.kind === 'unscoped' ? [] : catalogView(await catalog.catalog()),
      links: { self: `${base(request)}/v3/auth/catalog`, previous: null, next: null },
    };
  });

  app.get('/auth/projects', async (request) => {
    const projects = await identity.directory.authProjects(request.auth);
    return {
      projects: projects.map((p) => projectView(base(request), p)),
      links: { self: `${base(request)}/v3/auth/projects`, previous: null, next: null },
    };
  });

  app.get('/auth/domains', async (request) => {
    const domains = await identity.directory.authDomains(request.auth);
    return {
      domains: domains.map((d) => domainView(base(request), d)),
      links: { self: `${base(request)}/v3/auth/domains`, previous: null, next: null },
    };
  });

  app.get('/auth/system', async (request) => {
    const system = await identity.directory.authSystem(request.auth);
    return {
      system: system ? [{ all: true }] : [],
      links: { self: `${base(request)}/v3/auth/system`, previous: null, next: null },
    };
  });
}
