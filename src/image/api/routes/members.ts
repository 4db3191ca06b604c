// /v2/images/{id}/members: sharing an image with other projects, and their accept/reject.
import type { Api } from '../../../platform/http/mount.ts';
import { params, s } from '../../../platform/http/schema.ts';
import type { ImageService } from '../../index.ts';
import { memberView } from '../views.ts';

const image = params('id');
const member = params('id', 'member');
const memberBody = s.object({ member: s.string() }, { required: ['member'] });
const statusBody = s.object({ status: s.string() }, { required: ['status'] });

export function memberRoutes(app: Api, images: ImageService): void {
  const svc = images.members;
  app.get('/images/:id/members', { schema: { params: image } }, async (request) => ({
    members: (await svc.list(request.auth, request.params.id)).map(memberView),
    schema: '/v2/schemas/members',
  }));
  const add = { schema: { params: image, body: memberBody } };
  app.post('/images/:id/members', add, async (request) =>
    memberView(await svc.add(request.auth, request.params.id, request.body.member)),
  );
  app.get('/images/:id/members/:member', { schema: { params: member } }, async (request) =>
    memberView(await svc.get(request.auth, request.params.id, request.params.member)),
  );
  const set = { schema: { params: member, body: statusBody } };
  app.put('/images/:id/members/:member', set, async (request) => {
    const { id, member } = request.params;
    return memberView(await svc.setStatus(request.auth, id, member, request.body.status));
  });
  app.delete(
    '/images/:id/members/:member',
    { schema: { params: member } },
    async (request, reply) => {
      await svc.remove(request.auth, request.params.id, request.params.member);
      return reply.code(204).send();
    },
  );
}
