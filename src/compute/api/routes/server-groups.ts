// /os-server-groups: create (policies list before 2.64, policy and rules from it), list (own or
// all projects, offset paging), show, delete.
import type { Api } from '../../../platform/http/mount.ts';
import { first, params, query, s, type Static } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import { BadRequest } from '../../../platform/errors.ts';
import type { GroupPolicy } from '../../scheduler/host-selection.ts';
import type { ServerGroup } from '../../service/server-groups.ts';

const byId = { schema: { params: params('id') } };
/** The create body's shape; the fields each microversion allows, and values, parseCreate checks. */
const createBody = s.object(
  { server_group: s.object({ rules: s.record(s.unknown()) }) },
  { required: ['server_group'] },
);

function groupView(g: ServerGroup, mv: Microversion): Record<string, unknown> {
  const v: Record<string, unknown> = { id: g.id, name: g.name, members: [...g.members] };
  if (mv.atLeast('2.64')) Object.assign(v, { policy: g.policy, rules: { ...g.rules } });
  else Object.assign(v, { policies: [g.policy], metadata: {} });
  if (mv.atLeast('2.13')) Object.assign(v, { project_id: g.projectId, user_id: g.userId });
  return v;
}

function parseCreate(
  body: Static<typeof createBody>,
  mv: Microversion,
): { name: string; policy: GroupPolicy; rules: { max_server_per_host?: number } } {
  const g = body.server_group;
  const name = g['name'];
  if (typeof name !== 'string' || name.trim() === '' || name.length > 255)
    throw new BadRequest(
      'Invalid input for field/attribute name: 1-255 characters are required.',
      'server_group_invalid',
    );
  const allowed = mv.atLeast('2.15')
    ? ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']
    : ['affinity', 'anti-affinity'];
  let policy: unknown;
  let rules: { max_server_per_host?: number } = {};
  if (mv.atLeast('2.64')) {
    policy = g['policy'];
    if (g['policies'] !== undefined)
      throw new BadRequest(
        "Invalid input for field/attribute server_group: 'policies' was replaced by 'policy' in 2.64.",
        'server_group_invalid',
      );
    if (g['rules'] !== undefined) {
      const r = g.rules;
      const m = r['max_server_per_host'];
      if (
        Object.keys(r).some((k) => k !== 'max_server_per_host') ||
        (m !== undefined && (!Number.isInteger(Number(m)) || Number(m) < 1))
      ) {
        throw new BadRequest(
          'Invalid input for field/attribute rules: only max_server_per_host, a positive integer, is allowed.',
          'server_group_invalid',
        );
      }
      if (m !== undefined && policy !== 'anti-affinity')
        throw new BadRequest(
          'Only anti-affinity policy supports "max_server_per_host" rule.',
          'server_group_invalid',
        );
      if (m !== undefined) rules = { max_server_per_host: Number(m) };
    }
  } else {
    const p = g['policies'];
    if (!Array.isArray(p) || p.length !== 1)
      throw new BadRequest(
        'Invalid input for field/attribute policies: exactly one policy is required.',
        'server_group_invalid',
      );
    policy = p[0];
  }
  if (typeof policy !== 'string' || !allowed.includes(policy))
    throw new BadRequest(
      `Invalid input for field/attribute policy: use one of ${allowed.join(', ')}.`,
      'server_group_invalid',
    );
  return { name, policy: policy as GroupPolicy, rules };
}

export function serverGroupRoutes(app: Api, compute: ComputeService): void {
  const svc = compute.serverGroups;
  app.get('/os-server-groups', { schema: { querystring: query } }, async (request) => {
    const q = {
      limit: first(request.query['limit']),
      offset: first(request.query['offset']),
      all_projects: first(request.query['all_projects']),
    };
    const limit = q['limit'] === undefined ? 1000 : Number(q['limit']);
    const offset = q['offset'] === undefined ? 0 : Number(q['offset']);
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0)
      throw new BadRequest(
        'Invalid limit or offset: non-negative integers are required.',
        'server_group_invalid',
      );
    const all =
      q['all_projects'] !== undefined && !['0', 'false', 'False'].includes(q['all_projects']);
    const found = await svc.list(request.auth, {
      allProjects: all,
      limit: Math.min(limit, 1000),
      offset,
    });
    return { server_groups: found.map((g) => groupView(g, request.microversion)) };
  });
  app.post('/os-server-groups', { schema: { body: createBody } }, async (request) => ({
    server_group: groupView(
      await svc.create(request.auth, parseCreate(request.body, request.microversion)),
      request.microversion,
    ),
  }));
  app.get('/os-server-groups/:id', byId, async (request) => ({
    server_group: groupView(await svc.get(request.auth, request.params.id), request.microversion),
  }));
  app.delete('/os-server-groups/:id', byId, async (request, reply) => {
    await svc.remove(request.auth, request.params.id);
    return reply.code(204).send();
  });
}
