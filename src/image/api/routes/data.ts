// Image data: PUT/GET /v2/images/{id}/file (streamed both ways, with Range), PUT .../stage and
// POST .../import (interoperable import), and the discovery documents under /v2/info.
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Api } from '../../../platform/http/mount.ts';
import { params, s } from '../../../platform/http/schema.ts';
import type { ImageService } from '../../index.ts';
import { NubesError } from '../../../platform/errors.ts';
import { IMPORT_METHODS } from '../../service/data.ts';

const byId = { schema: { params: params('id') } };

function octetStream(request: FastifyRequest): { source: Readable; declared: number | undefined } {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/octet-stream') {
    throw new NubesError(
      'image_data_media_type',
      415,
      `Unsupported Content-Type '${type}': send image data as application/octet-stream.`,
    );
  }
  // Glance's size header first: a chunked upload has no Content-Length but may say its size there.
  const len = Number(
    request.headers['x-openstack-image-size'] ?? request.headers['content-length'],
  );
  return {
    // The octet-stream parser hands the request stream over unread: the body is request.raw.
    source: request.raw,
    declared: Number.isSafeInteger(len) && len >= 0 ? len : undefined,
  };
}

export function dataRoutes(app: Api, image: ImageService): void {
  const svc = image.data;

  app.put('/images/:id/file', byId, async (request, reply) => {
    const { source, declared } = octetStream(request);
    await svc.upload(request.auth, request.params.id, source, declared);
    return reply.code(204).send();
  });

  app.get('/images/:id/file', byId, async (request, reply) => {
    const range = request.headers['range'] ?? request.headers['content-range'];
    const d = await svc.download(
      request.auth,
      request.params.id,
      typeof range === 'string' ? range : undefined,
    );
    if (d === null) return reply.code(204).send();
    if (d === 'unsatisfiable') {
      throw new NubesError(
        'image_range_unsatisfiable',
        416,
        `Requested range ${String(range)} is not satisfiable for this image.`,
      );
    }
    reply.header('content-type', 'application/octet-stream');
    if (d.checksum) reply.header('content-md5', d.checksum);
    if (d.range) {
      reply
        .code(206)
        .header('content-range', `bytes ${d.range.start}-${d.range.end}/${d.size}`)
        .header('content-length', d.range.end - d.range.start + 1);
    } else {
      reply.code(200).header('content-length', d.size);
    }
    return reply.send(d.stream);
  });

  app.put('/images/:id/stage', byId, async (request, reply) => {
    const { source, declared } = octetStream(request);
    await svc.stage(request.auth, request.params.id, source, declared);
    return reply.code(204).send();
  });

  const importBody = s.object(
    { method: s.object({ name: s.string() }, { required: ['name'] }) },
    { required: ['method'] },
  );
  const importOpts = { schema: { params: params('id'), body: importBody } };
  app.post('/images/:id/import', importOpts, async (request, reply) => {
    await svc.startImport(request.auth, request.params.id, request.body.method.name);
    return reply.code(202).send();
  });

  app.get('/info/import', async () => ({
    'import-methods': {
      description: 'Import methods available.',
      type: 'array',
      value: [...IMPORT_METHODS],
    },
  }));

  app.get('/info/usage', async (request) => {
    const u = await image.records.usage(request.auth);
    const limit = (n: number) => (n === 0 ? -1 : n);
    return {
      usage: {
        image_size_total: { limit: limit(u.quota), usage: u.used },
        image_count_total: { limit: limit(u.countQuota), usage: u.count },
      },
    };
  });
}
