// Mounts Compute v2.1 (Nova) under /compute: version discovery as Nova answers it, microversions
// (2.1 up to COMPUTE_MAX_MICROVERSION), the token check, Nova's fault format, and the routes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ComputeService } from '../index.ts';
import type { Authenticate } from '../../platform/http/auth-hook.ts';
import type { FaultFamilies } from '../../platform/http/faults.ts';
import { mountService } from '../../platform/http/mount.ts';
import { renderComputeFault } from './faults.ts';
import { flavorRoutes } from './routes/flavors.ts';
import { keypairRoutes } from './routes/keypairs.ts';
import { hostRoutes } from './routes/hosts.ts';
import { quotaRoutes } from './routes/quotas.ts';
import { serverRoutes } from './routes/servers.ts';
import { serverGroupRoutes } from './routes/server-groups.ts';
import { serverActionRoutes } from './routes/server-actions.ts';
import { aggregateRoutes } from './routes/aggregates.ts';
import { usageRoutes } from './routes/usage.ts';
import { securityGroupRoutes } from './routes/security-groups.ts';
import { remoteConsoleRoutes } from './routes/remote-consoles.ts';
import type { Links } from './views.ts';

export const COMPUTE_PREFIX = '/compute';
export const COMPUTE_MIN_MICROVERSION = '2.1';
export const COMPUTE_MAX_MICROVERSION = '2.96';

function versionEntry(base: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_MAX_MICROVERSION,
    min_version: COMPUTE_MIN_MICROVERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${base}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' },
    ],
  };
}

export function mountComputeApi(
  app: FastifyInstance,
  compute: ComputeService,
  opts: {
    publicUrl?: string;
    faults: FaultFamilies;
    authenticate: Authenticate;
    identityUrl: string;
  },
): void {
  mountService(app, {
    prefix: COMPUTE_PREFIX,
    serviceType: 'compute',
    publicUrl: opts.publicUrl,
    faults: opts.faults,
    fault: { render: renderComputeFault },
    challenge: () => `Keystone uri="${opts.identityUrl}"`,
    authenticate: opts.authenticate,
    discovery: {
      // Nova answers its root with 200 and both API versions (v2.0 is the legacy one, not served here).
      '/': {
        body: (base) => ({
          versions: [
            {
              id: 'v2.0',
              status: 'SUPPORTED',
              version: '',
              min_version: '',
              updated: '2011-01-21T11:33:21Z',
              links: [{ rel: 'self', href: `${base}/v2/` }],
            },
            (({ 'media-types': _m, ...v }) => v)(versionEntry(base)),
          ],
        }),
      },
    },
    version: {
      path: '/v2.1',
      document: { body: (base) => ({ version: versionEntry(base) }) },
      microversions: {
        service: 'compute',
        legacyHeader: 'X-OpenStack-Nova-API-Version',
        min: COMPUTE_MIN_MICROVERSION,
        max: COMPUTE_MAX_MICROVERSION,
      },
      routes: (api, base) => {
        // Nova also names the request id in its own header.
        api.addHook('onRequest', async (request, reply) => {
          reply.header('x-compute-request-id', request.id);
        });
        const v21 = (request: FastifyRequest) => `${base(request)}/v2.1`;
        const links =
          (request: FastifyRequest): Links =>
          (path) => [
            { rel: 'self', href: `${v21(request)}/${path}` },
            { rel: 'bookmark', href: `${base(request)}/${path}` },
          ];
        flavorRoutes(api, compute, links, v21);
        keypairRoutes(api, compute, v21);
        hostRoutes(api, compute);
        quotaRoutes(api, compute);
        serverRoutes(api, compute, links, v21);
        serverGroupRoutes(api, compute);
        serverActionRoutes(api, compute, links, v21);
        remoteConsoleRoutes(api, compute);
        aggregateRoutes(api, compute);
        usageRoutes(api, compute);
        securityGroupRoutes(api, compute);
      },
    },
  });
}
