// /v2/tasks and /v2/images/{id}/tasks: the record of imports, with their progress messages.
import type { Api } from '../../../platform/http/mount.ts';
import { first, params, query, type Query } from '../../../platform/http/schema.ts';
import type { ImageService } from '../../index.ts';
import { taskView } from '../views.ts';

export function taskRoutes(app: Api, image: ImageService): void {
  const svc = image.data;
  const limitOf = (request: { query: Query }) =>
    Math.min(Number(first(request.query['limit']) ?? 25) || 25, 1000);
  app.get('/tasks', { schema: { querystring: query } }, async (request) => ({
    tasks: (await svc.listTasks(request.auth, { limit: limitOf(request) })).map(taskView),
    schema: '/v2/schemas/tasks',
    first: '/v2/tasks',
  }));
  app.get('/tasks/:id', { schema: { params: params('id') } }, async (request) =>
    taskView(await svc.getTask(request.auth, request.params.id)),
  );
  const imageTasks = { schema: { params: params('id'), querystring: query } };
  app.get('/images/:id/tasks', imageTasks, async (request) => ({
    tasks: (
      await svc.listTasks(request.auth, {
        imageId: request.params.id,
        limit: limitOf(request),
      })
    ).map(taskView),
  }));
}
