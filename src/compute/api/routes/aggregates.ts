// /os-aggregates: host aggregates (admin), with the add_host, remove_host and set_metadata actions.
import type { FastifyRequest } from 'fastify';
import type { Api } from '../../../platform/http/mount.ts';
import { params, s } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import { BadRequest } from '../../../platform/errors.ts';
import type { Aggregate } from '../../service/aggregates.ts';
import { novaTime } from '../views.ts';

const byId = { schema: { params: params('id') } };
const object = s.record(s.unknown());
/** `{"aggregate": {...}}`; its fields' rules are name() and zone()'s. */
const aggregateBody = s.object({ aggregate: object }, { required: ['aggregate'] });
/** One action per body (counted in the handler), each with its argument object. */
const actionBody = s.object({
  add_host: object,
  remove_host: object,
  set_metadata: s.object({ metadata: object }, { required: ['metadata'] }),
});

export function aggregateView(a: Aggregate, mv: Microversion): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    availability_zone: a.availabilityZone,
    hosts: [...a.hosts],
    metadata: {
      ...a.metadata,
      ...(a.availabilityZone !== null ? { availability_zone: a.availabilityZone } : {}),
    },
    created_at: novaTime(a.createdAt),
    updated_at: a.updatedAt === null ? null : novaTime(a.updatedAt),
    deleted_at: null,
    deleted: false,
    ...(mv.atLeast('2.41') ? { uuid: a.uuid } : {}),
  };
}

function name(v: unknown, field = 'name'): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 255)
    throw new BadRequest(
      `Invalid input for field/attribute ${field}: 1-255 characters are required.`,
      'aggregate_invalid',
    );
  return v;
}
const zone = (v: unknown): string | null =>
  v === undefined || v === null ? null : name(v, 'availability_zone');

export function aggregateRoutes(app: Api, compute: ComputeService): void {
  const svc = compute.aggregates;
  const one = (request: FastifyRequest, a: Aggregate) => ({
    aggregate: aggregateView(a, request.microversion),
  });
  app.get('/os-aggregates', async (request) => ({
    aggregates: (await svc.list(request.auth)).map((a) => aggregateView(a, request.microversion)),
  }));
  app.post('/os-aggregates', { schema: { body: aggregateBody } }, async (request) => {
    const b = request.body.aggregate;
    return one(
      request,
      await svc.create(request.auth, {
        name: name(b['name']),
        availabilityZone: zone(b['availability_zone']),
      }),
    );
  });
  app.get('/os-aggregates/:id', byId, async (request) =>
    one(request, await svc.get(request.auth, Number(request.params.id))),
  );
  const update = { schema: { params: params('id'), body: aggregateBody } };
  app.put('/os-aggregates/:id', update, async (request) => {
    const b = request.body.aggregate;
    if (b['name'] === undefined && b['availability_zone'] === undefined)
      throw new BadRequest('Invalid input: give name or availability_zone.', 'aggregate_invalid');
    return one(
      request,
      await svc.update(request.auth, Number(request.params.id), {
        ...(b['name'] !== undefined ? { name: name(b['name']) } : {}),
        ...(b['availability_zone'] !== undefined
          ? { availabilityZone: zone(b['availability_zone']) }
          : {}),
      }),
    );
  });
  app.delete('/os-aggregates/:id', byId, async (request, reply) => {
    await svc.remove(request.auth, Number(request.params.id));
    return reply.code(200).send();
  });
  const action = { schema: { params: params('id'), body: actionBody } };
  app.post('/os-aggregates/:id/action', action, async (request) => {
    const b = request.body;
    const [key] = Object.keys(b);
    if (Object.keys(b).length !== 1)
      throw new BadRequest(
        'There is either no action or more than one action in the request body.',
        'aggregate_invalid',
      );
    switch (key) {
      case 'add_host':
        return one(
          request,
          await svc.addHost(
            request.auth,
            Number(request.params.id),
            name(b.add_host!['host'], 'host'),
          ),
        );
      case 'remove_host':
        return one(
          request,
          await svc.removeHost(
            request.auth,
            Number(request.params.id),
            name(b.remove_host!['host'], 'host'),
          ),
        );
      case 'set_metadata': {
        const m = b.set_metadata!.metadata;
        for (const [k, v] of Object.entries(m)) {
          if (
            k.length < 1 ||
            k.length > 255 ||
            (v !== null && (typeof v !== 'string' || v.length > 255))
          )
            throw new BadRequest(
              `Invalid metadata ${k}: strings of at most 255 characters (null deletes).`,
              'aggregate_invalid',
            );
        }
        return one(
          request,
          await svc.setMetadata(
            request.auth,
            Number(request.params.id),
            m as Record<string, string | null>,
          ),
        );
      }
      default:
        throw new BadRequest(`Aggregate action ${key} is not supported.`, 'aggregate_invalid');
    }
  });
}
