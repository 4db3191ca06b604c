// /os-security-groups: Nova's proxy API (before 2.36) that clients use to resolve security group
// names when the cloud has no network endpoint. Until the network service exists every project has
// one group, `default`, with a stable id; servers are created in it.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Api } from '../../../platform/http/mount.ts';
import { params } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import { BadRequest, NotFound } from '../../../platform/errors.ts';

/** The default group's id in a project: stable, UUID-shaped, different per project. */
export function defaultGroupId(projectId: string): string {
  const h = createHash('sha256').update(`nubes-default-security-group:${projectId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function securityGroupRoutes(app: Api, compute: ComputeService): void {
  const own = (request: FastifyRequest) => {
    if (request.microversion.atLeast('2.36'))
      throw new NotFound(
        'The security group proxy API is gone from microversion 2.36; use the network API.',
        'proxy_api_removed',
      );
    const s = request.auth.scope;
    if (s.kind !== 'project')
      throw new BadRequest(
        'Security groups belong to projects: use a project-scoped token.',
        'security_groups_need_project',
      );
    return s.project.id;
  };
  const view = (projectId: string) => ({
    id: defaultGroupId(projectId),
    name: 'default',
    description: 'Default security group',
    tenant_id: projectId,
    rules: [],
  });
  app.get('/os-security-groups', async (request) => ({ security_groups: [view(own(request))] }));
  const byId = { schema: { params: params('id') } };
  app.get('/os-security-groups/:id', byId, async (request) => {
    const projectId = own(request);
    const id = request.params.id;
    if (id !== defaultGroupId(projectId))
      throw new NotFound(`Security group ${id} not found.`, 'security_group_not_found');
    return { security_group: view(projectId) };
  });
  app.get('/servers/:id/os-security-groups', byId, async (request) => {
    const i = await compute.servers.get(request.auth, request.params.id);
    return { security_groups: i.securityGroups.map(() => view(i.projectId)) };
  });
}
