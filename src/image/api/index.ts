// Mounts Image v2 (Glance) under /image: version discovery as Glance answers it, the token check
// on every non-public route, Glance's fault format, its media types, and the resource routes.
import type { FastifyInstance } from 'fastify';
import type { ImageService } from '../index.ts';
import type { Authenticate } from '../../platform/http/auth-hook.ts';
import type { FaultFamilies } from '../../platform/http/faults.ts';
import { mountService, type VersionDocument } from '../../platform/http/mount.ts';
import { negotiateImageFault, renderImageFault } from './faults.ts';
import { parseJsonBody } from '../../platform/http/server.ts';
import { imageRoutes, JSON_PATCH_TYPES } from './routes/images.ts';
import { dataRoutes } from './routes/data.ts';
import { memberRoutes } from './routes/members.ts';
import { taskRoutes } from './routes/tasks.ts';
import { schemaRoutes } from './routes/schemas.ts';

export const IMAGE_PREFIX = '/image';

// Glance 2.16 (2023.1) is the API level whose behaviour we implement; older minors are the same API.
const VERSIONS = [
  '2.16',
  '2.15',
  '2.14',
  '2.13',
  '2.12',
  '2.11',
  '2.10',
  '2.9',
  '2.8',
  '2.7',
  '2.6',
  '2.5',
  '2.4',
  '2.3',
  '2.2',
  '2.1',
  '2.0',
];

export function imageVersions(base: string) {
  return {
    versions: VERSIONS.map((v, i) => ({
      id: `v${v}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${base}/v2/` }],
    })),
  };
}

export function mountImageApi(
  app: FastifyInstance,
  image: ImageService,
  opts: {
    publicUrl?: string;
    faults: FaultFamilies;
    authenticate: Authenticate;
    identityUrl: string;
  },
): void {
  // Glance answers its root and its v2 root alike, with the multiple-choices document.
  const versions: VersionDocument = { status: 300, body: imageVersions };
  mountService(app, {
    prefix: IMAGE_PREFIX,
    serviceType: 'image',
    publicUrl: opts.publicUrl,
    faults: opts.faults,
    fault: { render: renderImageFault, negotiate: negotiateImageFault },
    challenge: () => `Keystone uri="${opts.identityUrl}"`,
    authenticate: opts.authenticate,
    discovery: { '/': versions, '/versions': { body: imageVersions } },
    version: {
      path: '/v2',
      document: versions,
      routes: (api, base) => {
        // Image data is streamed to the handler untouched (never buffered), whatever its size.
        api.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
          done(null, payload),
        );
        for (const type of JSON_PATCH_TYPES)
          api.addContentTypeParser(
            type,
            { parseAs: 'string', bodyLimit: 1024 * 1024 },
            parseJsonBody,
          );
        imageRoutes(api, image, base);
        dataRoutes(api, image);
        memberRoutes(api, image);
        taskRoutes(api, image);
        schemaRoutes(api);
      },
    },
  });
}
