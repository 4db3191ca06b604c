// Mounts Identity v3 under /identity: version discovery exactly as Keystone answers it, the
// token check on every non-public route, Keystone's fault format, and the resource routes.
import type { FastifyInstance } from 'fastify';
import type { Identity } from '../index.ts';
import { statusTitle, type Fault, type FaultFamilies } from '../../platform/http/faults.ts';
import { mountService } from '../../platform/http/mount.ts';
import { authRoutes } from './routes/auth.ts';
import { directoryRoutes } from './routes/directory.ts';
import { roleRoutes } from './routes/roles.ts';
import { catalogRoutes } from './routes/catalog.ts';

export const IDENTITY_PREFIX = '/identity';

/** Keystone's fault body. */
export function renderIdentityFault(f: Fault) {
  return { error: { code: f.status, title: statusTitle(f.status), message: f.message } };
}

function versionEntry(base: string) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [
      { base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' },
    ],
  };
}

/** The multiple-choices document Keystone serves at its root. */
export function identityVersions(base: string) {
  return { versions: { values: [versionEntry(base)] } };
}

export function mountIdentityApi(
  app: FastifyInstance,
  identity: Identity,
  opts: { publicUrl?: string; faults: FaultFamilies },
): void {
  mountService(app, {
    prefix: IDENTITY_PREFIX,
    serviceType: 'identity',
    publicUrl: opts.publicUrl,
    faults: opts.faults,
    fault: { render: renderIdentityFault },
    challenge: (base) => `Keystone uri="${base}"`,
    authenticate: identity.authenticate,
    discovery: { '/': { status: 300, body: identityVersions } },
    version: {
      path: '/v3',
      document: { body: (base) => ({ version: versionEntry(base) }) },
      routes: (api, base) => {
        authRoutes(api, identity, base);
        directoryRoutes(api, identity, base);
        roleRoutes(api, identity, base);
        catalogRoutes(api, identity, base);
      },
    },
  });
}
