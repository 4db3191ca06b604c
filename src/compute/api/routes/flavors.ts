// /flavors: list (summary and detail, with Nova's filters, sorting and paging), show, create,
// update (2.55), delete; extra specs (/os-extra_specs) and private-flavor access (/os-flavor-access
// and the addTenantAccess/removeTenantAccess actions).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ComputeService } from '../../index.ts';
import { BadRequest } from '../../../platform/errors.ts';
import { flavorSummary, flavorView, type Links } from '../views.ts';
import { parseFlavorCreate, parseFlavorQuery } from '../flavor-body.ts';
import { requireObject } from '../body.ts';

const id = (request: FastifyRequest) => (request.params as { id: string }).id;

export function flavorRoutes(
  app: FastifyInstance,
  compute: ComputeService,
  links: (request: FastifyRequest) => Links,
  base: (request: FastifyRequest) => string,
): void {
  const svc = compute.flavors;

  const list = (detail: boolean) => async (request: FastifyRequest) => {
    const q = parseFlavorQuery(
      request.query as Record<string, unknown>,
      compute.isAdmin(request.auth),
    );
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
      const params = new URLSearchParams(request.query as Record<string, string>);
      params.set('marker', found.at(-1)!.id);
      body['flavors_links'] = [
        { rel: 'next', href: `${base(request)}/flavors${detail ? '/detail' : ''}?${params}` },
      ];
    }
    return body;
  };
  app.get('/flavors', list(false));
  app.get('/flavors/detail', list(true));

  app.get('/flavors/:id', async (request) => ({
    flavor: flavorView(
      await svc.get(request.auth, id(request)),
      request.microversion,
      links(request),
      { extraSpecs: true },
    ),
  }));

  app.post('/flavors', async (request) => {
    const f = await svc.create(request.auth, parseFlavorCreate(request.body, request.microversion));
    return { flavor: flavorView(f, request.microversion, links(request), { extraSpecs: true }) };
  });

  app.put('/flavors/:id', async (request) => {
    if (!request.microversion.atLeast('2.55'))
      throw new BadRequest(
        'Updating a flavor needs microversion 2.55 or later.',
        'microversion_too_low',
      );
    const flavor = requireObject(request.body, 'flavor');
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
    const f = await svc.setDescription(request.auth, id(request), description as string | null);
    return { flavor: flavorView(f, request.microversion, links(request), { extraSpecs: true }) };
  });

  app.delete('/flavors/:id', async (request, reply) => {
    await svc.remove(request.auth, id(request));
    return reply.code(202).send();
  });

  // --- extra specs
  const specsBody = (body: unknown, key: string): Record<string, string> => {
    const specs = requireObject(body, key);
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
  const key = (request: FastifyRequest) => (request.params as { key: string }).key;

  app.get('/flavors/:id/os-extra_specs', async (request) => ({
    extra_specs: await svc.extraSpecs(request.auth, id(request)),
  }));
  app.post('/flavors/:id/os-extra_specs', async (request) => {
    const specs = specsBody(request.body, 'extra_specs');
    await svc.setExtraSpecs(request.auth, id(request), specs, 'create');
    return { extra_specs: specs };
  });
  app.get('/flavors/:id/os-extra_specs/:key', async (request) => ({
    [key(request)]: await svc.extraSpec(request.auth, id(request), key(request)),
  }));
  app.put('/flavors/:id/os-extra_specs/:key', async (request) => {
    const body = specsBody(request.body, '');
    if (Object.keys(body).length !== 1 || !(key(request) in body))
      throw new BadRequest(
        'Request body and URI mismatch: send {"<key>": "<value>"} for the key in the URL.',
        'flavor_bad_extra_spec',
      );
    await svc.setExtraSpecs(request.auth, id(request), body, 'update');
    return body;
  });
  app.delete('/flavors/:id/os-extra_specs/:key', async (request, reply) => {
    await svc.deleteExtraSpec(request.auth, id(request), key(request));
    return reply.code(200).send();
  });

  // --- access to private flavors
  const accessView = (flavorId: string, projects: string[]) => ({
    flavor_access: projects.map((p) => ({ flavor_id: flavorId, tenant_id: p })),
  });
  app.get('/flavors/:id/os-flavor-access', async (request) =>
    accessView(id(request), await svc.access(request.auth, id(request))),
  );
  app.post('/flavors/:id/action', async (request) => {
    const body = requireObject(request.body, '');
    const [action, ...more] = Object.keys(body);
    if (more.length > 0 || (action !== 'addTenantAccess' && action !== 'removeTenantAccess')) {
      throw new BadRequest(
        'There is no such action: send {"addTenantAccess": {"tenant": "<project id>"}} or removeTenantAccess.',
        'flavor_bad_action',
      );
    }
    const tenant = (body[action] as { tenant?: unknown } | null)?.tenant;
    if (typeof tenant !== 'string' || tenant === '' || tenant.length > 255)
      throw new BadRequest(
        `Invalid input for field/attribute ${action}: "tenant" must be a project id.`,
        'flavor_bad_action',
      );
    const projects =
      action === 'addTenantAccess'
        ? await svc.addAccess(
            request.auth,
            id(request),
            tenant,
            request.microversion.atLeast('2.7'),
          )
        : await svc.removeAccess(request.auth, id(request), tenant);
    return accessView(id(request), projects);
  });
}
