// /v2/tasks and /v2/images/{id}/tasks: the record of imports, with their progress messages.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageService } from '../../index.ts';
import { taskView } from '../views.ts';

export function taskRoutes(app: FastifyInstance, image: ImageService): void {
  const svc = image.data;
  const limitOf = (request: FastifyRequest) =>
    Math.min(Number((request.query as { limit?: string }).limit ?? 25) || 25, 1000);
  app.get('/v2/tasks', async (request) => ({
    tasks: (await svc.listTasks(request.auth, { limit: limitOf(request) })).map(taskView),
    schema: '/v2/schemas/tasks',
    first: '/v2/tasks',
  }));
  app.get('/v2/tasks/:id', async (request) =>
    taskView(await svc.getTask(request.auth, (request.params as { id: string }).id)),
  );
  app.get('/v2/images/:id/tasks', async (request) => ({
    tasks: (
      await svc.listTasks(request.auth, {
        imageId: (request.params as { id: string }).id,
        limit: limitOf(request),
      })
    ).map(taskView),
  }));
}
