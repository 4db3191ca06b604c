// /servers: create (one or many), list (summary and detail, with Nova's filters, sorting, paging
// and changes-since), show, update, delete, and /servers/{id}/metadata.
import type { FastifyRequest } from 'fastify';
import type { Api, Req } from '../../../platform/http/mount.ts';
import { params, query, s } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import type { Instance } from '../../model.ts';
import {
  parseMetadata,
  parseServerCreate,
  parseServerQuery,
  parseServerUpdate,
  serverCreateBody,
  serverUpdateBody,
} from '../server-body.ts';
import { serverSummary, serverView, type ServerViewOptions } from '../server-views.ts';
import type { Links } from '../views.ts';
import { BadRequest, NotFound } from '../../../platform/errors.ts';

/** Nova's [api] max_limit. */
const MAX_LIMIT = 1000;
const byId = { schema: { params: params('id') } };
const listSchema = { querystring: query };
// The values' rules (strings of at most 255 characters) are parseMetadata's, with Nova's message.
const metadataBody = s.object({ metadata: s.unknown() }, { required: ['metadata'] });
const metaBody = s.object({ meta: s.unknown() }, { required: ['meta'] });

export function serverRoutes(
  app: Api,
  compute: ComputeService,
  links: (request: FastifyRequest) => Links,
  base: (request: FastifyRequest) => string,
): void {
  const svc = compute.servers;

  /** What the caller may see beyond the basics, decided once per request. */
  async function viewOptions(
    request: FastifyRequest,
    extra: Partial<ServerViewOptions> = {},
  ): Promise<ServerViewOptions> {
    const admin = compute.isAdmin(request.auth);
    return { extended: admin, hostStatus: null, flavorExtraSpecs: true, ...extra };
  }

  const hostStatus = async (request: FastifyRequest, i: Instance): Promise<string | null> =>
    compute.isAdmin(request.auth) && request.microversion.atLeast('2.16')
      ? compute.hosts.statusOf(i.host)
      : null;

  async function full(
    request: FastifyRequest,
    i: Instance,
    groups = false,
  ): Promise<Record<string, unknown>> {
    const o = await viewOptions(request, {
      hostStatus: await hostStatus(request, i),
      ...(groups && request.microversion.atLeast('2.71')
        ? { serverGroups: await compute.serverGroups.groupsOf(i.id) }
        : {}),
    });
    return serverView(i, request.microversion, links(request), o);
  }

  const list = (detail: boolean) => async (request: Req<typeof listSchema>) => {
    const query = request.query;
    const q = parseServerQuery(
      query,
      request.microversion,
      compute.isAdmin(request.auth),
      MAX_LIMIT,
    );
    const found = await svc.list(request.auth, q, detail);
    const o = await viewOptions(request);
    const statuses =
      detail && o.extended && request.microversion.atLeast('2.16')
        ? await compute.hosts.statusesOf(found.map((i) => i.host))
        : undefined;
    const body: Record<string, unknown> = {
      servers: found.map((i) =>
        detail
          ? serverView(i, request.microversion, links(request), {
              ...o,
              hostStatus: statuses?.get(i.host ?? '') ?? (statuses ? '' : null),
            })
          : serverSummary(i, links(request)),
      ),
    };
    if (found.length > 0 && found.length === q.limit) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query))
        for (const x of Array.isArray(v) ? v : [v]) if (k !== 'marker') params.append(k, String(x));
      params.set('marker', found.at(-1)!.id);
      body['servers_links'] = [
        { rel: 'next', href: `${base(request)}/servers${detail ? '/detail' : ''}?${params}` },
      ];
    }
    return body;
  };
  app.get('/servers', { schema: listSchema }, list(false));
  app.get('/servers/detail', { schema: listSchema }, list(true));

  app.post('/servers', { schema: { body: serverCreateBody } }, async (request, reply) => {
    const mv = request.microversion;
    const c = parseServerCreate(request.body, mv);
    const made = await svc.create(request.auth, c, request.id);
    if (c.returnReservationId) return reply.code(202).send({ reservation_id: made.reservationId });
    const first = made.servers[0]!;
    const server: Record<string, unknown> = {
      id: first.id,
      links: links(request)(`servers/${first.id}`),
      'OS-DCF:diskConfig': 'MANUAL',
      security_groups: first.securityGroups.map((name) => ({ name })),
      adminPass: made.adminPass,
    };
    return reply
      .code(202)
      .header('location', `${base(request)}/servers/${first.id}`)
      .send({ server });
  });

  app.get('/servers/:id', byId, async (request) => ({
    server: await full(request, await svc.get(request.auth, request.params.id), true),
  }));

  const update = { schema: { params: params('id'), body: serverUpdateBody } };
  app.put('/servers/:id', update, async (request) => {
    const i = await svc.update(
      request.auth,
      request.params.id,
      parseServerUpdate(request.body, request.microversion),
    );
    return { server: await full(request, i, true) };
  });

  app.delete('/servers/:id', byId, async (request, reply) => {
    await svc.remove(request.auth, request.params.id, request.id);
    return reply.code(204).send();
  });

  // --- metadata
  const meta = (i: Instance) => ({ metadata: { ...i.metadata } });
  app.get('/servers/:id/metadata', byId, async (request) =>
    meta(
      await svc.visible(request.auth, request.params.id, 'os_compute_api:server-metadata:index'),
    ),
  );
  const metadata = { schema: { params: params('id'), body: metadataBody } };
  app.post('/servers/:id/metadata', metadata, async (request) =>
    meta(
      await svc.setMetadata(
        request.auth,
        request.params.id,
        { merge: parseMetadata(request.body.metadata) },
        true,
      ),
    ),
  );
  app.put('/servers/:id/metadata', metadata, async (request) =>
    meta(
      await svc.setMetadata(request.auth, request.params.id, {
        replace: parseMetadata(request.body.metadata),
      }),
    ),
  );
  const byKey = { schema: { params: params('id', 'key') } };
  app.get('/servers/:id/metadata/:key', byKey, async (request) => {
    const { key } = request.params;
    const i = await svc.visible(
      request.auth,
      request.params.id,
      'os_compute_api:server-metadata:show',
    );
    if (!(key in i.metadata))
      throw new NotFound(`Metadata item was not found: ${key}`, 'metadata_not_found');
    return { meta: { [key]: i.metadata[key] } };
  });
  const item = { schema: { params: params('id', 'key'), body: metaBody } };
  app.put('/servers/:id/metadata/:key', item, async (request) => {
    const { key } = request.params;
    const m = parseMetadata(request.body.meta, 'meta');
    if (Object.keys(m).length !== 1 || !(key in m))
      throw new BadRequest(
        'Request body and URI mismatch: the body must set exactly the key in the URI.',
        'metadata_mismatch',
      );
    const i = await svc.setMetadata(request.auth, request.params.id, { merge: m });
    return { meta: { [key]: i.metadata[key] } };
  });
  app.delete('/servers/:id/metadata/:key', byKey, async (request, reply) => {
    await svc.setMetadata(request.auth, request.params.id, { remove: request.params.key });
    return reply.code(204).send();
  });
}
