// /v3/regions, /v3/services, /v3/endpoints, and application credentials under /v3/users/{id}.
import type { FastifyInstance } from 'fastify';
import type { Identity } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { schemas, splitBody } from '../schemas.ts';
import { appCredView, endpointView, listLinks, regionView, serviceView } from '../views.ts';
import { inner, params, present, query, type BaseUrl } from './common.ts';

type Obj = Record<string, any>;

function parseTime(v: unknown): number | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  const ms = Date.parse(
    String(v).endsWith('Z') || /[+-]\d\d:?\d\d$/.test(String(v)) ? String(v) : `${String(v)}Z`,
  );
  if (Number.isNaN(ms))
    throw new BadRequest(
      `Invalid timestamp ${JSON.stringify(v)}; use ISO 8601, e.g. 2030-01-01T00:00:00Z.`,
    );
  return ms;
}

export function catalogRoutes(app: FastifyInstance, identity: Identity, base: BaseUrl): void {
  const cat = identity.catalog;

  app.get('/v3/regions', async (request) => {
    const list = await cat.listRegions(
      request.auth,
      present({ parentRegionId: query(request, 'parent_region_id') }),
    );
    return {
      regions: list.map((r) => regionView(base(request), r)),
      links: listLinks(base(request), 'regions'),
    };
  });
  app.post('/v3/regions', { schema: { body: schemas.regionCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'region'), [
      'id',
      'description',
      'parent_region_id',
    ]);
    const b = inner<Obj>(request, 'region');
    const r = await cat.createRegion(request.auth, {
      extra,
      ...present({
        id: b['id'],
        description: f['description'] ?? undefined,
        parentRegionId: f['parent_region_id'],
      }),
    });
    return reply.code(201).send({ region: regionView(base(request), r) });
  });
  app.get('/v3/regions/:id', async (request) => ({
    region: regionView(base(request), await cat.getRegion(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/regions/:id', { schema: { body: schemas.regionUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'region'), [
      'description',
      'parent_region_id',
    ]);
    return {
      region: regionView(
        base(request),
        await cat.updateRegion(request.auth, params(request)['id']!, {
          extra,
          ...present({
            description: f['description'] ?? undefined,
            parentRegionId: f['parent_region_id'],
          }),
        }),
      ),
    };
  });
  app.delete('/v3/regions/:id', async (request, reply) => {
    await cat.deleteRegion(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });

  const serviceFields = ['type', 'name', 'description', 'enabled'];
  app.get('/v3/services', async (request) => {
    const list = await cat.listServices(
      request.auth,
      present({ type: query(request, 'type'), name: query(request, 'name') }),
    );
    return {
      services: list.map((s) => serviceView(base(request), s)),
      links: listLinks(base(request), 'services'),
    };
  });
  app.post('/v3/services', { schema: { body: schemas.serviceCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(inner(request, 'service'), serviceFields);
    const s = await cat.createService(request.auth, {
      type: f['type'],
      name: f['name'] ?? '',
      description: f['description'] ?? '',
      enabled: f['enabled'] ?? true,
      extra,
    });
    return reply.code(201).send({ service: serviceView(base(request), s) });
  });
  app.get('/v3/services/:id', async (request) => ({
    service: serviceView(base(request), await cat.getService(request.auth, params(request)['id']!)),
  }));
  app.patch('/v3/services/:id', { schema: { body: schemas.serviceUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'service'), serviceFields);
    return {
      service: serviceView(
        base(request),
        await cat.updateService(request.auth, params(request)['id']!, {
          extra,
          ...present({
            type: f['type'],
            name: f['name'] ?? undefined,
            description: f['description'] ?? undefined,
            enabled: f['enabled'],
          }),
        }),
      ),
    };
  });
  app.delete('/v3/services/:id', async (request, reply) => {
    await cat.deleteService(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });

  const endpointFields = ['service_id', 'interface', 'url', 'region_id', 'region', 'enabled'];
  app.get('/v3/endpoints', async (request) => {
    const list = await cat.listEndpoints(
      request.auth,
      present({
        serviceId: query(request, 'service_id'),
        interface: query(request, 'interface'),
        regionId: query(request, 'region_id'),
      }),
    );
    return {
      endpoints: list.map((e) => endpointView(base(request), e)),
      links: listLinks(base(request), 'endpoints'),
    };
  });
  app.post(
    '/v3/endpoints',
    { schema: { body: schemas.endpointCreate } },
    async (request, reply) => {
      const { fields: f, extra } = splitBody(inner(request, 'endpoint'), endpointFields);
      const e = await cat.createEndpoint(request.auth, {
        serviceId: f['service_id'],
        interface: f['interface'],
        url: f['url'],
        regionId: f['region_id'] ?? f['region'] ?? null,
        enabled: f['enabled'] ?? true,
        extra,
      });
      return reply.code(201).send({ endpoint: endpointView(base(request), e) });
    },
  );
  app.get('/v3/endpoints/:id', async (request) => ({
    endpoint: endpointView(
      base(request),
      await cat.getEndpoint(request.auth, params(request)['id']!),
    ),
  }));
  app.patch('/v3/endpoints/:id', { schema: { body: schemas.endpointUpdate } }, async (request) => {
    const { fields: f, extra } = splitBody(inner(request, 'endpoint'), endpointFields);
    const regionId = f['region_id'] !== undefined ? f['region_id'] : f['region'];
    return {
      endpoint: endpointView(
        base(request),
        await cat.updateEndpoint(request.auth, params(request)['id']!, {
          extra,
          ...present({
            serviceId: f['service_id'],
            interface: f['interface'],
            url: f['url'],
            regionId,
            enabled: f['enabled'],
          }),
        }),
      ),
    };
  });
  app.delete('/v3/endpoints/:id', async (request, reply) => {
    await cat.deleteEndpoint(request.auth, params(request)['id']!);
    return reply.code(204).send();
  });

  // --- application credentials
  app.get('/v3/users/:uid/application_credentials', async (request) => {
    const uid = params(request)['uid']!;
    const list = await identity.appCreds.list(request.auth, uid, query(request, 'name'));
    return {
      application_credentials: list.map((a) => appCredView(base(request), a)),
      links: listLinks(base(request), `users/${uid}/application_credentials`),
    };
  });
  app.post(
    '/v3/users/:uid/application_credentials',
    { schema: { body: schemas.appCredCreate } },
    async (request, reply) => {
      const b = inner<Obj>(request, 'application_credential');
      const { appCred, secret } = await identity.appCreds.create(
        request.auth,
        params(request)['uid']!,
        {
          name: b['name'],
          ...present({
            secret: b['secret'] ?? undefined,
            description: b['description'] ?? undefined,
            expiresAt: parseTime(b['expires_at']),
            roles: b['roles'],
            unrestricted: b['unrestricted'],
            accessRules: b['access_rules'],
          }),
        },
      );
      return reply
        .code(201)
        .send({ application_credential: appCredView(base(request), appCred, secret) });
    },
  );
  app.get('/v3/users/:uid/application_credentials/:id', async (request) => ({
    application_credential: appCredView(
      base(request),
      await identity.appCreds.get(request.auth, params(request)['uid']!, params(request)['id']!),
    ),
  }));
  app.delete('/v3/users/:uid/application_credentials/:id', async (request, reply) => {
    await identity.appCreds.delete(request.auth, params(request)['uid']!, params(request)['id']!);
    return reply.code(204).send();
  });
}
