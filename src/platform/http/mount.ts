// Mounts one OpenStack service API under its path prefix: base URL, fault family, token check (and
// access rules, by service type), version documents, optional microversions, and typed routes under
// the versioned path. A service fills in these pieces; all that is shared about serving lives here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  FastifySchema,
  RawServerDefault,
  RouteGenericInterface,
} from 'fastify';
import { installAuth, type Authenticate } from './auth-hook.ts';
import {
  installFaultHandlers,
  type FaultFamilies,
  type FaultFamily,
  type FaultRenderer,
} from './faults.ts';
import { installMicroversions, type MicroversionRange } from './microversion.ts';
import type { SchemaTypes } from './schema.ts';

/** A scope whose routes get request.params/query/body typed from their JSON Schemas. */
export type Api = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  SchemaTypes
>;

/** The request of a route with schema S, for handlers written apart from their route. */
export type Req<S extends FastifySchema = FastifySchema> = FastifyRequest<
  RouteGenericInterface,
  RawServerDefault,
  IncomingMessage,
  S,
  SchemaTypes
>;

/** The service's root URL as the client sees it, e.g. https://cloud.example/compute. */
export type BaseUrl = (request: FastifyRequest) => string;

/** A public GET answering with a version document built from the base URL. */
export interface VersionDocument {
  /** 300 for OpenStack's multiple-choices documents; 200 when left out. */
  readonly status?: 200 | 300;
  readonly body: (base: string) => unknown;
}

/**
 * What a service fills in to be served. A new one (network, say) looks like:
 *
 *   mountService(app, {
 *     prefix: '/network', serviceType: 'network', publicUrl, faults, authenticate,
 *     fault: { render: renderNetworkFault },
 *     challenge: () => `Keystone uri="${identityUrl}"`,
 *     discovery: { '/': { body: networkVersions } },
 *     version: { path: '/v2.0', document: { body: v20 }, routes: (api) => portRoutes(api, net) },
 *   });
 *
 * and its routes declare `schema: { params, querystring, body }` with the builders of schema.ts,
 * so handlers read request.params/query/body typed, and shape errors answer in its fault format.
 */
export interface ServiceApi {
  /** Where the service lives on the shared listener, e.g. '/compute'. */
  readonly prefix: string;
  /** The catalog's service type, e.g. 'compute': application credential access rules name it. */
  readonly serviceType: string;
  /** The URL clients reach this server by; the request's own host when not configured. */
  readonly publicUrl: string | undefined;
  /** The server's fault families, so errors raised before routing answer in this format. */
  readonly faults: FaultFamilies;
  /** The service's fault body (and, for Glance, content negotiation). */
  readonly fault: { readonly render: FaultRenderer; readonly negotiate?: FaultFamily['negotiate'] };
  /** The WWW-Authenticate value of a 401, given this service's base URL. */
  readonly challenge: (base: string) => string;
  /** Validates the X-Auth-Token of every non-public route (before its schema is checked). */
  readonly authenticate: Authenticate;
  /** Version discovery at the service root, path (relative to the prefix) → document. */
  readonly discovery: Readonly<Record<string, VersionDocument>>;
  /** The versioned API, e.g. '/v2.1': its own version document and the resource routes. */
  readonly version: {
    readonly path: string;
    /** Served at `path` and `path/`, public. */
    readonly document: VersionDocument;
    /** The microversion range, for services that negotiate one (Nova). */
    readonly microversions?: MicroversionRange;
    readonly routes: (api: Api, base: BaseUrl) => void;
  };
}

/** Registers the service on `app`; call before app.ready(). */
export function mountService(app: FastifyInstance, svc: ServiceApi): void {
  const base: BaseUrl = (request) =>
    `${svc.publicUrl ?? `${request.protocol}://${request.host}`}${svc.prefix}`;
  const family: FaultFamily = {
    prefix: svc.prefix,
    render: svc.fault.render,
    ...(svc.fault.negotiate ? { negotiate: svc.fault.negotiate } : {}),
    authenticate: (request) => svc.challenge(base(request)),
  };
  svc.faults.add(family);
  const serve = (scope: FastifyInstance, path: string, doc: VersionDocument) =>
    scope.get(path, { config: { public: true } }, async (request, reply) =>
      reply.code(doc.status ?? 200).send(doc.body(base(request))),
    );
  app.register(
    async (scope) => {
      installFaultHandlers(scope, family);
      installAuth(scope, svc.authenticate, { serviceType: svc.serviceType, prefix: svc.prefix });
      for (const [path, doc] of Object.entries(svc.discovery)) serve(scope, path, doc);
      scope.register(
        async (versioned) => {
          if (svc.version.microversions) installMicroversions(versioned, svc.version.microversions);
          // Fastify serves a prefixed scope's '/' at both `path` and `path/`.
          serve(versioned, '/', svc.version.document);
          svc.version.routes(versioned.withTypeProvider<SchemaTypes>(), base);
        },
        { prefix: svc.version.path },
      );
    },
    { prefix: svc.prefix },
  );
}
