// /v3/regions, /v3/services, /v3/endpoints, and application credentials under /v3/users/{id}.
import type { Api } from '../../../platform/http/mount.ts';
import { params, query as anyQuery } from '../../../platform/http/schema.ts';
import type { Identity } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { schemas, splitBody } from '../schemas.ts';
import { appCredView, endpointView, listLinks, regionView, serviceView } from '../views.ts';
import { present, query, type BaseUrl } from './common.ts';

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

export function catalogRoutes(app: Api, identity: Identity, base: BaseUrl): void {
  const cat = identity.catalog;

  app.get('/regions', { schema: { querystring: anyQuery } }, async (request) => {
    const list = await cat.listRegions(
      request.auth,
      present({ parentRegionId: query(request, 'parent_region_id') }),
    );
    return {
      regions: list.map((r) => regionView(base(request), r)),
      links: listLinks(base(request), 'regions'),
    };
  });
  app.post('/regions', { schema: { body: schemas.regionCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.region, [
      'id',
      'description',
      'parent_region_id',
    ]);
    const b = request.body.region;
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
  app.get('/regions/:id', { schema: { params: params('id') } }, async (request) => ({
    region: regionView(base(request), await cat.getRegion(request.auth, request.params.id)),
  }));
  app.patch(
    '/regions/:id',
    { schema: { params: params('id'), body: schemas.regionUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.region, [
        'description',
        'parent_region_id',
      ]);
      return {
        region: regionView(
          base(request),
          await cat.updateRegion(request.auth, request.params.id, {
            extra,
            ...present({
              description: f['description'] ?? undefined,
              parentRegionId: f['parent_region_id'],
            }),
          }),
        ),
      };
    },
  );
  app.delete('/regions/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await cat.deleteRegion(request.auth, request.params.id);
    return reply.code(204).send();
  });

  const serviceFields = ['type', 'name', 'description', 'enabled'] as const;
  app.get('/services', { schema: { querystring: anyQuery } }, async (request) => {
    const list = await cat.listServices(
      request.auth,
      present({ type: query(request, 'type'), name: query(request, 'name') }),
    );
    return {
      services: list.map((s) => serviceView(base(request), s)),
      links: listLinks(base(request), 'services'),
    };
  });
  app.post('/services', { schema: { body: schemas.serviceCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.service, serviceFields);
    const s = await cat.createService(request.auth, {
      type: f['type'],
      name: f['name'] ?? '',
      description: f['description'] ?? '',
      enabled: f['enabled'] ?? true,
      extra,
    });
    return reply.code(201).send({ service: serviceView(base(request), s) });
  });
  app.get('/services/:id', { schema: { params: params('id') } }, async (request) => ({
    service: serviceView(base(request), await cat.getService(request.auth, request.params.id)),
  }));
  app.patch(
    '/services/:id',
    { schema: { params: params('id'), body: schemas.serviceUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.service, serviceFields);
      return {
        service: serviceView(
          base(request),
          await cat.updateService(request.auth, request.params.id, {
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
    },
  );
  app.delete('/services/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await cat.deleteService(request.auth, request.params.id);
    return reply.code(204).send();
  });

  const endpointFields = [
    'service_id',
    'interface',
    'url',
    'region_id',
    'region',
    'enabled',
  ] as const;
  app.get('/endpoints', { schema: { querystring: anyQuery } }, async (request) => {
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
  app.post('/endpoints', { schema: { body: schemas.endpointCreate } }, async (request, reply) => {
    const { fields: f, extra } = splitBody(request.body.endpoint, endpointFields);
    const e = await cat.createEndpoint(request.auth, {
      serviceId: f['service_id'],
      interface: f['interface'],
      url: f['url'],
      regionId: f['region_id'] ?? f['region'] ?? null,
      enabled: f['enabled'] ?? true,
      extra,
    });
    return reply.code(201).send({ endpoint: endpointView(base(request), e) });
  });
  app.get('/endpoints/:id', { schema: { params: params('id') } }, async (request) => ({
    endpoint: endpointView(base(request), await cat.getEndpoint(request.auth, request.params.id)),
  }));
  app.patch(
    '/endpoints/:id',
    { schema: { params: params('id'), body: schemas.endpointUpdate } },
    async (request) => {
      const { fields: f, extra } = splitBody(request.body.endpoint, endpointFields);
      const regionId = f['region_id'] !== undefined ? f['region_id'] : f['region'];
      return {
        endpoint: endpointView(
          base(request),
          await cat.updateEndpoint(request.auth, request.params.id, {
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
    },
  );
  app.delete('/endpoints/:id', { schema: { params: params('id') } }, async (request, reply) => {
    await cat.deleteEndpoint(request.auth, request.params.id);
    return reply.code(204).send();
  });

  // --- application credentials
  app.get(
    '/users/:uid/application_credentials',
    { schema: { params: params('uid'), querystring: anyQuery } },
    async (request) => {
      const uid = request.params.uid;
      const list = await identity.appCreds.list(request.auth, uid, query(request, 'name'));
      return {
        application_credentials: list.map((a) => appCredView(base(request), a)),
        links: listLinks(base(request), `users/${uid}/application_credentials`),
      };
    },
  );
  app.post(
    '/users/:uid/application_credentials',
    { schema: { params: params('uid'), body: schemas.appCredCreate } },
    async (request, reply) => {
      const b = request.body.application_credential;
      const { appCred, secret } = await identity.appCreds.create(request.auth, request.params.uid, {
        name: b['name'],
        ...present({
          secret: b['secret'] ?? undefined,
          description: b['description'] ?? undefined,
          expiresAt: parseTime(b['expires_at']),
          roles: b['roles'],
          unrestricted: b['unrestricted'],
          accessRules: b['access_rules'],
        }),
      });
      return reply
        .code(201)
        .send({ application_credential: appCredView(base(request), appCred, secret) });
    },
  );
  app.get(
    '/users/:uid/application_credentials/:id',
    { schema: { params: params('uid', 'id') } },
    async (request) => ({
      application_credential: appCredView(
        base(request),
        await identity.appCreds.get(request.auth, request.params.uid, request.params.id),
      ),
    }),
  );
  app.delete(
    '/users/:uid/application_credentials/:id',
    { schema: { params: params('uid', 'id') } },
    async (request, reply) => {
      await identity.appCreds.delete(request.auth, request.params.uid, request.params.id);
      return reply.code(204).send();
    },
  );
}
