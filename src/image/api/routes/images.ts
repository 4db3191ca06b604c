// /v2/images: create, list, show, JSON-patch update, delete, tags, and the deactivate/reactivate
// actions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageService } from '../../index.ts';
import { BadRequest, NubesError } from '../../../platform/errors.ts';
import { imageView } from '../views.ts';
import { parseCreateBody } from '../create-body.ts';
import { nextQuery, parseListQuery } from '../list-query.ts';
import type { PatchOp } from '../../service/image-patch.ts';
import { IMPORT_METHODS } from '../../service/data.ts';

export const JSON_PATCH_TYPES = [
  'application/openstack-images-v2.1-json-patch',
  'application/openstack-images-v2.0-json-patch',
];

const id = (request: FastifyRequest) => (request.params as { id: string }).id;

export function imageRoutes(
  app: FastifyInstance,
  image: ImageService,
  base: (request: FastifyRequest) => string,
): void {
  const svc = image.records;

  app.post('/v2/images', async (request, reply) => {
    const img = await svc.create(request.auth, parseCreateBody(request.body));
    return reply
      .code(201)
      .header('location', `${base(request)}/v2/images/${img.id}`)
      .header('openstack-image-import-methods', IMPORT_METHODS.join(','))
      .send(imageView(img));
  });

  app.get('/v2/images', async (request) => {
    const q = request.query as Record<string, string | string[] | undefined>;
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

  app.get('/v2/images/:id', async (request) => imageView(await svc.get(request.auth, id(request))));

  app.patch('/v2/images/:id', async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!JSON_PATCH_TYPES.includes(type)) {
      reply.header('accept-patch', JSON_PATCH_TYPES.join(', '));
      throw new NubesError(
        'image_patch_media_type',
        415,
        `Image PATCH expects Content-Type one of: ${JSON_PATCH_TYPES.join(', ')} (got '${type}').`,
      );
    }
    if (!Array.isArray(request.body))
      throw new BadRequest(
        'The request body must be a JSON array of changes ({"op": "replace", "path": "/name", "value": "x"}).',
        'image_bad_patch',
      );
    return imageView(await svc.update(request.auth, id(request), request.body as PatchOp[]));
  });

  app.delete('/v2/images/:id', async (request, reply) => {
    await svc.remove(request.auth, id(request));
    return reply.code(204).send();
  });

  app.put('/v2/images/:id/tags/:tag', async (request, reply) => {
    await svc.addTag(request.auth, id(request), (request.params as { tag: string }).tag);
    return reply.code(204).send();
  });
  app.delete('/v2/images/:id/tags/:tag', async (request, reply) => {
    await svc.removeTag(request.auth, id(request), (request.params as { tag: string }).tag);
    return reply.code(204).send();
  });

  app.post('/v2/images/:id/actions/deactivate', async (request, reply) => {
    await svc.setActive(request.auth, id(request), false);
    return reply.code(204).send();
  });
  app.post('/v2/images/:id/actions/reactivate', async (request, reply) => {
    await svc.setActive(request.auth, id(request), true);
    return reply.code(204).send();
  });
}
