// Mounts Identity v3 under /identity: version discovery exactly as Keystone answers it, the
// token check on every non-public route, Keystone's fault format, and the resource routes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../index.ts';
import {
  installFaultHandlers,
  statusTitle,
  type Fault,
  type FaultFamilies,
  type FaultFamily,
} from '../../platform/http/faults.ts';
import { installAuth } from '../../platform/http/auth-hook.ts';
import { authRoutes } from './routes/auth.ts';
import { directoryRoutes } from './routes/directory.ts';
import { roleRoutes } from './routes/roles.ts';
import { catalogRoutes } from './routes/catalog.ts';
import type { BaseUrl } from './routes/common.ts';

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

export function requestBase(publicUrl: string | undefined): BaseUrl {
  return (request: FastifyRequest) =>
    `${publicUrl ?? `${request.protocol}://${request.host}`}${IDENTITY_PREFIX}`;
}

export function mountIdentityApi(
  app: FastifyInstance,
  identity: Identity,
  opts: { publicUrl?: string; faults: FaultFamilies },
): void {
  const base = requestBase(opts.publicUrl);
  const family: FaultFamily = {
    prefix: IDENTITY_PREFIX,
    render: renderIdentityFault,
    authenticate: (request) => `Keystone uri="${base(request)}"`,
  };
  opts.faults.add(family);
  app.register(
    async (scope) => {
      installFaultHandlers(scope, family);
      installAuth(scope, identity.authenticate);
      const versions = async (request: FastifyRequest, reply: import('fastify').FastifyReply) =>
        reply.code(300).send(identityVersions(base(request)));
      scope.get('/', { config: { public: true } }, versions);
      scope.get('/v3', { config: { public: true } }, async (request) => ({
        version: versionEntry(base(request)),
      }));
      scope.get('/v3/', { config: { public: true } }, async (request) => ({
        version: versionEntry(base(request)),
      }));
      authRoutes(scope, identity, base);
      directoryRoutes(scope, identity, base);
      roleRoutes(scope, identity, base);
      catalogRoutes(scope, identity, base);
    },
    { prefix: IDENTITY_PREFIX },
  );
}
