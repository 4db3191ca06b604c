// /flavors: list (summary and detail, with Nova's filters, sorting and paging), show, create,
// update (2.55), delete; extra specs (/os-extra_specs) and private-flavor access (/os-flavor-access
// and the addTenantAccess/removeTenantAccess actions).
import type { FastifyRequest } from 'fastify';
import type { Api, Req } from '../../../platform/http/mount.ts';
import { params, query, s } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { flavorSummary, flavorView, type Links } from '../views.ts';
import { flavorCreateBody, parseFlavorCreate, parseFlavorQuery } from '../flavor-body.ts';

const byId = { schema: { params: params('id') } };
const byKey = { schema: { params: params('id', 'key') } };
const listSchema = { querystring: query };
const object = s.record(s.unknown());

export function flavorRoutes(
  app: Api,
  compute: ComputeService,
  links: (request: FastifyRequest) => Links,
  base: (request: FastifyRequest) => string,
): void {
  const svc = compute.flavors;

  const list = (detail: boolean) => async (request: Req<typeof listSchema>) => {
    const q = parseFlavorQuery(request.query, compute.isAdmin(request.auth));
    const found = await svc.list(request.auth, q);
    const mv = request.microversion;
    const body: Record<string, unknown> = {
      flavors: found.map((f) =>
        detail
          ? flavorView(f, mv, links(request), { extraSpecs: true })
          : flavorSummary(f, mv, links(request)),
      ),
    };
    if (found.length === q.limit && found.length > 0) {
      const next = new URLSearchParams(
        Object.entries(request.query).map(([k, v]) => [k, String(v)]),
      );
      next.set('marker', found.at(-1)!.id);
      body['flavors_links'] = [
        { rel: 'next', href: `${base(request)}/flavors${detail ? '/detail' : ''}?${next}` },
      ];
    }
    return body;
  };
  app.get('/flavors', { schema: listSchema }, list(false));
  app.get('/flavors/detail', { schema: listSchema }, list(true));

  app.get('/flavors/:id', byId, async (request) => ({
    flavor: flavorView(
      await svc.get(request.auth, request.params.id),
      request.microversion,
      links(request),
      { extraSpecs: true },
    ),
  }));

  app.post('/flavors', { schema: { body: flavorCreateBody } }, async (request) => {
    const f = await svc.create(request.auth, parseFlavorCreate(request.body, request.microversion));
    return { flavor: flavorView(f, request.microversion, links(request), { extraSpecs: true }) };
  });

  const update = {
    schema: { params: params('id'), body: s.object({ flavor: object }, { required: ['flavor'] }) },
  };
  app.put('/flavors/:id', update, async (request) => {
    if (!request.microversion.atLeast('2.55'))
      throw new BadRequest(
        'Updating a flavor needs microversion 2.55 or later.',
        'microversion_too_low',
      );
    const flavor = request.body.flavor;
    const description = flavor['description'];
    if (
      Object.keys(flavor).some((k) => k !== 'description') ||
      (description !== null && (typeof description !== 'string' || description.length > 65535))
    ) {
      throw new BadRequest(
        "Invalid input for field/attribute flavor. Only 'description' (a string of at most 65535 characters, or null) may be updated.",
        'flavor_bad_update',
      );
    }
    const f = await svc.setDescription(
      request.auth,
      request.params.id,
      description as string | null,
    );
    return { flavor: flavorView(f, request.microversion, links(request), { extraSpecs: true }) };
  });

  app.delete('/flavors/:id', byId, async (request, reply) => {
    await svc.remove(request.auth, request.params.id);
    return reply.code(202).send();
  });

  // --- extra specs
  const specsBody = (specs: Readonly<Record<string, unknown>>): Record<string, string> => {
    for (const [k, v] of Object.entries(specs)) {
      if (!/^[a-zA-Z0-9-_:. ]{1,255}$/.test(k))
        throw new BadRequest(
          `Invalid input for field/attribute extra_specs: the key ${JSON.stringify(k.slice(0, 60))} must be 1-255 letters, digits, spaces, '_', '-', '.' or ':'.`,
          'flavor_bad_extra_spec',
        );
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new BadRequest(
          `Invalid input for field/attribute extra_specs: the value of ${k} must be a string.`,
          'flavor_bad_extra_spec',
        );
      if (String(v).length > 255)
        throw new BadRequest(
          `Invalid input for field/attribute extra_specs: the value of ${k} is longer than 255 characters.`,
          'flavor_bad_extra_spec',
        );
    }
    return Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, String(v)]));
  };

  app.get('/flavors/:id/os-extra_specs', byId, async (request) => ({
    extra_specs: await svc.extraSpecs(request.auth, request.params.id),
  }));
  const setSpecs = {
    schema: {
      params: params('id'),
      body: s.object({ extra_specs: object }, { required: ['extra_specs'] }),
    },
  };
  app.post('/flavors/:id/os-extra_specs', setSpecs, async (request) => {
    const specs = specsBody(request.body.extra_specs);
    await svc.setExtraSpecs(request.auth, request.params.id, specs, 'create');
    return { extra_specs: specs };
  });
  app.get('/flavors/:id/os-extra_specs/:key', byKey, async (request) => ({
    [request.params.key]: await svc.extraSpec(request.auth, request.params.id, request.params.key),
  }));
  const setSpec = { schema: { params: params('id', 'key'), body: object } };
  app.put('/flavors/:id/os-extra_specs/:key', setSpec, async (request) => {
    const body = specsBody(request.body);
    if (Object.keys(body).length !== 1 || !(request.params.key in body))
      throw new BadRequest(
        'Request body and URI mismatch: send {"<key>": "<value>"} for the key in the URL.',
        'flavor_bad_extra_spec',
      );
    await svc.setExtraSpecs(request.auth, request.params.id, body, 'update');
    return body;
  });
  app.delete('/flavors/:id/os-extra_specs/:key', byKey, async (request, reply) => {
    await svc.deleteExtraSpec(request.auth, request.params.id, request.params.key);
    return reply.code(200).send();
  });

  // --- access to private flavors
  const accessView = (flavorId: string, projects: string[]) => ({
    flavor_access: projects.map((p) => ({ flavor_id: flavorId, tenant_id: p })),
  });
  app.get('/flavors/:id/os-flavor-access', byId, async (request) =>
    accessView(request.params.id, await svc.access(request.auth, request.params.id)),
  );
  // One action per body (checked below with Nova's message), its argument an object.
  const accessAction = s.object({ addTenantAccess: object, removeTenantAccess: object });
  app.post(
    '/flavors/:id/action',
    { schema: { params: params('id'), body: accessAction } },
    async (request) => {
      const body = request.body;
      const [action, ...more] = Object.keys(body);
      if (more.length > 0 || (action !== 'addTenantAccess' && action !== 'removeTenantAccess')) {
        throw new BadRequest(
          'There is no such action: send {"addTenantAccess": {"tenant": "<project id>"}} or removeTenantAccess.',
          'flavor_bad_action',
        );
      }
      const tenant = body[action]?.['tenant'];
      if (typeof tenant !== 'string' || tenant === '' || tenant.length > 255)
        throw new BadRequest(
          `Invalid input for field/attribute ${action}: "tenant" must be a project id.`,
          'flavor_bad_action',
        );
      const projects =
        action === 'addTenantAccess'
          ? await svc.addAccess(
              request.auth,
              request.params.id,
              tenant,
              request.microversion.atLeast('2.7'),
            )
          : await svc.removeAccess(request.auth, request.params.id, tenant);
      return accessView(request.params.id, projects);
    },
  );
}
