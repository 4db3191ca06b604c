// /os-aggregates: host aggregates (admin), with the add_host, remove_host and set_metadata actions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ComputeService } from '../../index.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import { BadRequest } from '../../../platform/errors.ts';
import type { Aggregate } from '../../service/aggregates.ts';
import { requireObject } from '../body.ts';
import { novaTime } from '../views.ts';

const id = (request: FastifyRequest) => Number((request.params as { id: string }).id);

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

export function aggregateRoutes(app: FastifyInstance, compute: ComputeService): void {
  const svc = compute.aggregates;
  const one = (request: FastifyRequest, a: Aggregate) => ({
    aggregate: aggregateView(a, request.microversion),
  });
  app.get('/os-aggregates', async (request) => ({
    aggregates: (await svc.list(request.auth)).map((a) => aggregateView(a, request.microversion)),
  }));
  app.post('/os-aggregates', async (request) => {
    const b = requireObject(request.body, 'aggregate');
    return one(
      request,
      await svc.create(request.auth, {
        name: name(b['name']),
        availabilityZone: zone(b['availability_zone']),
      }),
    );
  });
  app.get('/os-aggregates/:id', async (request) =>
    one(request, await svc.get(request.auth, id(request))),
  );
  app.put('/os-aggregates/:id', async (request) => {
    const b = requireObject(request.body, 'aggregate');
    if (b['name'] === undefined && b['availability_zone'] === undefined)
      throw new BadRequest('Invalid input: give name or availability_zone.', 'aggregate_invalid');
    return one(
      request,
      await svc.update(request.auth, id(request), {
        ...(b['name'] !== undefined ? { name: name(b['name']) } : {}),
        ...(b['availability_zone'] !== undefined
          ? { availabilityZone: zone(b['availability_zone']) }
          : {}),
      }),
    );
  });
  app.delete('/os-aggregates/:id', async (request, reply) => {
    await svc.remove(request.auth, id(request));
    return reply.code(200).send();
  });
  app.post('/os-aggregates/:id/action', async (request) => {
    const b = requireObject(request.body, '');
    const [key] = Object.keys(b);
    if (Object.keys(b).length !== 1)
      throw new BadRequest(
        'There is either no action or more than one action in the request body.',
        'aggregate_invalid',
      );
    const arg = requireObject(b[key!], '');
    switch (key) {
      case 'add_host':
        return one(
          request,
          await svc.addHost(request.auth, id(request), name(arg['host'], 'host')),
        );
      case 'remove_host':
        return one(
          request,
          await svc.removeHost(request.auth, id(request), name(arg['host'], 'host')),
        );
      case 'set_metadata': {
        const m = requireObject(arg['metadata'], '');
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
          await svc.setMetadata(request.auth, id(request), m as Record<string, string | null>),
        );
      }
      default:
        throw new BadRequest(`Aggregate action ${key} is not supported.`, 'aggregate_invalid');
    }
  });
}
