// The one HTTP listener: a Fastify instance with request ids, JSON-lines access logs and strict
// JSON parsing. Services mount themselves under path prefixes; this file knows none of them.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { newRequestId } from '../ids.ts';
import type { Logger } from '../log.ts';
import { redactUrl } from '../log-redact.ts';
import { FaultFamilies, routeNotFound } from './faults.ts';
import { BadRequest } from '../errors.ts';

const NUL_IN_URL = /%00/;
const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's X-OpenStack-Request-ID when it is a `req-<uuid>` (oslo's global request id), else null. */
    globalRequestId: string | null;
  }
}

export interface HttpServerOptions {
  readonly log: Logger;
  /** Largest accepted request body; larger ones get a 413 in the family's fault format. */
  readonly bodyLimit?: number;
  /** Where mounted APIs register their fault formats (see installFaultHandlers). */
  readonly faults: FaultFamilies;
}

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    // One access line per request comes from the onResponse hook below, not Fastify's two.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'request_id',
    }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // As oslo's RequestId middleware: every request gets its own (local) id, answered in
    // X-OpenStack-Request-ID and used for instance actions; a caller's id is never taken as it
    // (Fastify's requestIdHeader would take any header value as the id, before genReqId).
    requestIdHeader: false,
    genReqId: () => newRequestId(),
    return503OnClosing: true,
    // Long ids reach the handlers (and get a 404 in the API's format) instead of a router 414.
    routerOptions: { maxParamLength: 16 * 1024 },
    frameworkErrors: (err, request, reply) =>
      opts.faults.send(request, reply, {
        status: 400,
        code: err.code,
        fields: {},
        message: `Malformed request URL: ${err.message.slice(0, 200)}`,
      }),
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: true,
        allErrors: false,
      },
    },
  });
  app.decorateRequest('globalRequestId', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
    // The caller's id, when it is a req-<uuid>, ties this request to the caller's own (oslo's
    // global_request_id): logged beside ours, never used as ours. Anything else is ignored.
    const given = request.headers['x-openstack-request-id'];
    if (typeof given === 'string' && REQUEST_ID.test(given)) {
      request.globalRequestId = given;
      request.log = request.log.child({ global_request_id: given });
      reply.log = request.log;
    }
    // No name, id or filter of ours holds a NUL, and PostgreSQL cannot store one: refuse it here,
    // the same on every database, instead of failing deep inside a query.
    if (NUL_IN_URL.test(request.url))
      throw new BadRequest(
        'The request URL contains a NUL character (%00), which no name or id may contain.',
        'nul_character',
      );
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        // Console tokens and other secrets in a URL are not for the log (log-redact.ts).
        url: redactUrl(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });
  app.setNotFoundHandler((request, reply) =>
    opts.faults.send(request, reply, routeNotFound(request)),
  );
  // JSON is the only body format our APIs take; an empty body with any content type is allowed
  // for requests that need none (DELETE, HEAD, actions without input).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  app.addContentTypeParser(
    /^application\/[a-z0-9.+-]*\+json$/,
    { parseAs: 'string' },
    parseJsonBody,
  );
  return app;
}

/** Fastify body parser for JSON (and JSON-based media types): strict, NUL-free, no __proto__. */
export function parseJsonBody(
  _request: unknown,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  const text = body.toString();
  if (text.trim() === '') return done(null, undefined);
  try {
    done(
      null,
      JSON.parse(text, (k, v: unknown) => {
        if (k === '__proto__') return undefined;
        if (k.includes('\0') || (typeof v === 'string' && v.includes('\0'))) {
          throw new BadRequest(
            `The request body contains a NUL character (\\u0000) in ${k ? `"${k.replaceAll('\0', '\\u0000').slice(0, 64)}"` : 'a string'}, which no field may contain.`,
            'nul_character',
          );
        }
        return v;
      }),
    );
  } catch (e) {
    if (e instanceof BadRequest) return done(e, undefined);
    const err = e as Error & { statusCode?: number };
    err.statusCode = 400;
    done(err, undefined);
  }
}
