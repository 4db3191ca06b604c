// /servers: create (one or many), list (summary and detail, with Nova's filters, sorting, paging
// and changes-since), show, update, delete, and /servers/{id}/metadata.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ComputeService } from '../../index.ts';
import type { Instance } from '../../model.ts';
import { requireObject } from '../body.ts';
import {
  parseMetadata,
  parseServerCreate,
  parseServerQuery,
  parseServerUpdate,
} from '../server-body.ts';
import { serverSummary, serverView, type ServerViewOptions } from '../server-views.ts';
import type { Links } from '../views.ts';
import { BadRequest, NotFound } from '../../../platform/errors.ts';

const id = (request: FastifyRequest) => (request.params as { id: string }).id;
/** Nova's [api] max_limit. */
const MAX_LIMIT = 1000;

export function serverRoutes(
  app: FastifyInstance,
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

  const list = (detail: boolean) => async (request: FastifyRequest) => {
    const query = request.query as Record<string, unknown>;
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
  app.get('/servers', list(false));
  app.get('/servers/detail', list(true));

  app.post('/servers', async (request, reply) => {
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

  app.get('/servers/:id', async (request) => ({
    server: await full(request, await svc.get(request.auth, id(request)), true),
  }));

  app.put('/servers/:id', async (request) => {
    const i = await svc.update(
      request.auth,
      id(request),
      parseServerUpdate(request.body, request.microversion),
    );
    return { server: await full(request, i, true) };
  });

  app.delete('/servers/:id', async (request, reply) => {
    await svc.remove(request.auth, id(request), request.id);
    return reply.code(204).send();
  });

  // --- metadata
  const meta = (i: Instance) => ({ metadata: { ...i.metadata } });
  app.get('/servers/:id/metadata', async (request) =>
    meta(await svc.visible(request.auth, id(request), 'os_compute_api:server-metadata:index')),
  );
  app.post('/servers/:id/metadata', async (request) =>
    meta(
      await svc.setMetadata(
        request.auth,
        id(request),
        { merge: parseMetadata(requireObject(request.body, '')['metadata']) },
        true,
      ),
    ),
  );
  app.put('/servers/:id/metadata', async (request) =>
    meta(
      await svc.setMetadata(request.auth, id(request), {
        replace: parseMetadata(requireObject(request.body, '')['metadata']),
      }),
    ),
  );
  app.get('/servers/:id/metadata/:key', async (request) => {
    const { key } = request.params as { key: string };
    const i = await svc.visible(request.auth, id(request), 'os_compute_api:server-metadata:show');
    if (!(key in i.metadata))
      throw new NotFound(`Metadata item was not found: ${key}`, 'metadata_not_found');
    return { meta: { [key]: i.metadata[key] } };
  });
  app.put('/servers/:id/metadata/:key', async (request) => {
    const { key } = request.params as { key: string };
    const m = parseMetadata(requireObject(request.body, '')['meta'], 'meta');
    if (Object.keys(m).length !== 1 || !(key in m))
      throw new BadRequest(
        'Request body and URI mismatch: the body must set exactly the key in the URI.',
        'metadata_mismatch',
      );
    const i = await svc.setMetadata(request.auth, id(request), { merge: m });
    return { meta: { [key]: i.metadata[key] } };
  });
  app.delete('/servers/:id/metadata/:key', async (request, reply) => {
    await svc.setMetadata(request.auth, id(request), {
      remove: (request.params as { key: string }).key,
    });
    return reply.code(204).send();
  });
}
