// /v2/images/{id}/members: sharing an image with other projects, and their accept/reject.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageService } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { memberView } from '../views.ts';

const p = (request: FastifyRequest) => request.params as { id: string; member: string };

function field(request: FastifyRequest, key: 'member' | 'status'): string {
  const v = (request.body as Record<string, unknown> | undefined)?.[key];
  if (typeof v !== 'string')
    throw new BadRequest(
      `The request body needs "${key}" as a string, e.g. {"${key}": "${key === 'member' ? 'PROJECT_ID' : 'accepted'}"}.`,
      'image_bad_member',
    );
  return v;
}

export function memberRoutes(app: FastifyInstance, image: ImageService): void {
  const svc = image.members;
  app.get('/v2/images/:id/members', async (request) => ({
    members: (await svc.list(request.auth, p(request).id)).map(memberView),
    schema: '/v2/schemas/members',
  }));
  app.post('/v2/images/:id/members', async (request) =>
    memberView(await svc.add(request.auth, p(request).id, field(request, 'member'))),
  );
  app.get('/v2/images/:id/members/:member', async (request) =>
    memberView(await svc.get(request.auth, p(request).id, p(request).member)),
  );
  app.put('/v2/images/:id/members/:member', async (request) =>
    memberView(
      await svc.setStatus(request.auth, p(request).id, p(request).member, field(request, 'status')),
    ),
  );
  app.delete('/v2/images/:id/members/:member', async (request, reply) => {
    await svc.remove(request.auth, p(request).id, p(request).member);
    return reply.code(204).send();
  });
}
