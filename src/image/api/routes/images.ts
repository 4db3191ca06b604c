// /v2/images: create, list, show, JSON-patch update, delete, tags, and the deactivate/reactivate
// actions.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api, BaseUrl } from '../../../platform/http/mount.ts';
import { params, query, s } from '../../../platform/http/schema.ts';
import type { ImageService } from '../../index.ts';
import { NubesError } from '../../../platform/errors.ts';
import { imageView } from '../views.ts';
import { parseCreateBody } from '../create-body.ts';
import { nextQuery, parseListQuery } from '../list-query.ts';
import { IMPORT_METHODS } from '../../service/data.ts';

export const JSON_PATCH_TYPES = [
  'application/openstack-images-v2.1-json-patch',
  'application/openstack-images-v2.0-json-patch',
];

const byId = { schema: { params: params('id') } };
const byTag = { schema: { params: params('id', 'tag') } };

/** Glance reads a POST without a body as an empty image description. */
async function emptyBodyIsObject(request: FastifyRequest) {
  request.body ??= {};
}

/** A JSON patch must say it is one (415 with Accept-Patch), checked before the body's shape. */
async function jsonPatchOnly(request: FastifyRequest, reply: FastifyReply) {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!JSON_PATCH_TYPES.includes(type)) {
    reply.header('accept-patch', JSON_PATCH_TYPES.join(', '));
    throw new NubesError(
      'image_patch_media_type',
      415,
      `Image PATCH expects Content-Type one of: ${JSON_PATCH_TYPES.join(', ')} (got '${type}').`,
    );
  }
}

/** The changes' shape; what each op may do to which attribute is the patch service's to check. */
const patchBody = s.array(
  s.object({ op: s.string(), path: s.string(), value: s.unknown() }, { required: ['op', 'path'] }),
);

export function imageRoutes(app: Api, image: ImageService, base: BaseUrl): void {
  const svc = image.records;

  const create = { preValidation: emptyBodyIsObject, schema: { body: s.record(s.unknown()) } };
  app.post('/images', create, async (request, reply) => {
    const img = await svc.create(request.auth, parseCreateBody(request.body));
    return reply
      .code(201)
      .header('location', `${base(request)}/v2/images/${img.id}`)
      .header('openstack-image-import-methods', IMPORT_METHODS.join(','))
      .send(imageView(img));
  });

  app.get('/images', { schema: { querystring: query } }, async (request) => {
    const q = request.query;
    const parsed = parseListQuery(q);
    const list = await svc.list(request.auth, parsed);
    const firstQuery = new URLSearchParams(request.url.split('?')[1] ?? '');
    firstQuery.delete('marker');
    const raw = firstQuery.toString();
    const body: Record<string, unknown> = {
      images: list.map(imageView),
      first: `/v2/images${raw ? `?${raw}` : ''}`,
      schema: '/v2/schemas/images',
    };
    if (list.length === parsed.limit && list.length > 0)
      body['next'] = `/v2/images?${nextQuery(q, list.at(-1)!.id, parsed.limit)}`;
    return body;
  });

  app.get('/images/:id', byId, async (request) =>
    imageView(await svc.get(request.auth, request.params.id)),
  );

  app.patch(
    '/images/:id',
    { preValidation: jsonPatchOnly, schema: { params: params('id'), body: patchBody } },
    async (request) => imageView(await svc.update(request.auth, request.params.id, request.body)),
  );

  app.delete('/images/:id', byId, async (request, reply) => {
    await svc.remove(request.auth, request.params.id);
    return reply.code(204).send();
  });

  app.put('/images/:id/tags/:tag', byTag, async (request, reply) => {
    await svc.addTag(request.auth, request.params.id, request.params.tag);
    return reply.code(204).send();
  });
  app.delete('/images/:id/tags/:tag', byTag, async (request, reply) => {
    await svc.removeTag(request.auth, request.params.id, request.params.tag);
    return reply.code(204).send();
  });

  app.post('/images/:id/actions/deactivate', byId, async (request, reply) => {
    await svc.setActive(request.auth, request.params.id, false);
    return reply.code(204).send();
  });
  app.post('/images/:id/actions/reactivate', byId, async (request, reply) => {
    await svc.setActive(request.auth, request.params.id, true);
    return reply.code(204).send();
  });
}
