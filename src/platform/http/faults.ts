// Turns errors into HTTP responses, one renderer per API family, in this one file. Domain code
// throws NubesError; schema and parser failures from Fastify become 400s; anything unexpected
// becomes a 500 that names the request id and is logged with its stack.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isNubesError } from '../errors.ts';

export interface Fault {
  readonly status: number;
  readonly message: string;
  readonly code: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Renders a fault into a family's body, e.g. Keystone's {"error": {...}}. */
export type FaultRenderer = (fault: Fault) => unknown;

/** The WWW-Authenticate value for 401s; every family points clients at the identity endpoint. */
export type AuthenticateHeader = (request: FastifyRequest) => string;

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

/** A field as a reader writes it: ['server', 'networks', '0', 'id'] → server.networks[0].id. */
function fieldName(segments: readonly string[]): string {
  return segments.reduce(
    (out, s) => (/^\d+$/.test(s) ? `${out}[${s}]` : out ? `${out}.${s}` : s),
    '',
  );
}

/** The segments of a JSON Pointer such as ajv's instancePath (/server/networks/0). */
const pointerSegments = (pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));

/** One sentence naming the field and what it must be, from the first schema error. */
function describeValidation(err: FastifyError): string {
  const v = err.validation?.[0];
  if (!v) return err.message;
  const context = err.validationContext ?? 'body';
  const segments = pointerSegments(v.instancePath);
  const p = v.params as { missingProperty?: unknown; type?: unknown };
  if (v.keyword === 'required' && typeof p.missingProperty === 'string')
    return `Invalid input: the ${context} needs '${fieldName([...segments, p.missingProperty])}'.`;
  // ajv names one type as a string and several (a nullable field) as a list.
  const types =
    typeof p.type === 'string' ? p.type.split(',') : Array.isArray(p.type) ? p.type : [];
  const what =
    v.keyword === 'type' && types.length > 0
      ? `must be ${types.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(' or ')}`
      : (v.message ?? 'is invalid');
  if (segments.length === 0) return `Invalid input: the ${context} ${what}.`;
  return `Invalid input for field '${fieldName(segments)}': ${what}.`;
}

/** Maps anything thrown in a handler to a fault. Never throws. */
export function toFault(err: unknown): Fault {
  if (isNubesError(err))
    return { status: err.status, message: err.message, code: err.code, fields: err.fields };
  const fe = err as Partial<FastifyError> | undefined;
  if (fe && fe.validation) {
    return {
      status: 400,
      message: describeValidation(fe as FastifyError),
      code: 'schema_validation',
      fields: {},
    };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    let message = fe.message ?? 'Bad request';
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      message = 'Request body is larger than the server accepts; send a smaller request.';
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      message = 'Unsupported Content-Type; send application/json.';
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      message = 'The request body is empty but Content-Type is application/json; send a JSON body.';
    if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
      message = `Malformed JSON in request body: ${fe.message}`;
    return { status: fe.statusCode, message, code: fe.code ?? 'bad_request', fields: {} };
  }
  return {
    status: 500,
    message: 'An unexpected error prevented the server from fulfilling your request.',
    code: 'internal',
    fields: {},
  };
}

export function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** A fault body in a media type the client asked for (Glance's webob negotiates on Accept). */
export interface NegotiatedFault {
  readonly type: string;
  readonly body: string;
}

/** One API family's fault format and 401 challenge, mounted under a path prefix. */
export interface FaultFamily {
  readonly prefix: string;
  readonly render: FaultRenderer;
  readonly authenticate: AuthenticateHeader;
  /** When set, picks the body's media type from the request; `render` is the JSON form. */
  readonly negotiate?: (fault: Fault, request: FastifyRequest) => NegotiatedFault | undefined;
}

/** The families mounted on one server, so errors raised before routing (a malformed URL, an
 * over-long path) still answer in the format of the API the client called. */
export class FaultFamilies {
  readonly #families: FaultFamily[] = [];
  add(f: FaultFamily): void {
    this.#families.push(f);
  }
  forUrl(url: string): FaultFamily | undefined {
    return this.#families.find(
      (f) => url === f.prefix || url.startsWith(`${f.prefix}/`) || url.startsWith(`${f.prefix}?`),
    );
  }
  /** Renders `fault` for whichever family owns the request's URL (a plain body if none does). */
  send(request: FastifyRequest, reply: FastifyReply, fault: Fault) {
    const family = this.forUrl(request.url);
    if (!family)
      return reply
        .code(fault.status)
        .type('application/json')
        .send({
          error: { code: fault.status, title: statusTitle(fault.status), message: fault.message },
        });
    return sendFault(family, request, reply, fault);
  }
}

function sendFault(
  family: FaultFamily,
  request: FastifyRequest,
  reply: FastifyReply,
  fault: Fault,
) {
  if (fault.status === 401) reply.header('www-authenticate', family.authenticate(request));
  const negotiated = family.negotiate?.(fault, request);
  if (negotiated) return reply.code(fault.status).type(negotiated.type).send(negotiated.body);
  return reply.code(fault.status).type('application/json').send(family.render(fault));
}

/** Installs the family's error and not-found handlers on its encapsulated Fastify scope. */
export function installFaultHandlers(scope: FastifyInstance, family: FaultFamily): void {
  scope.setErrorHandler((err, request, reply) => {
    const fault = toFault(err);
    if (fault.status >= 500) {
      request.log.error({ err }, 'unexpected error');
      return sendFault(family, request, reply, {
        ...fault,
        message: `${fault.message} (request id ${request.id})`,
      });
    }
    request.log.info({ status: fault.status, code: fault.code }, fault.message);
    return sendFault(family, request, reply, fault);
  });
  scope.setNotFoundHandler((request, reply) =>
    sendFault(family, request, reply, routeNotFound(request)),
  );
}

export function routeNotFound(request: FastifyRequest): Fault {
  return {
    status: 404,
    code: 'route_not_found',
    fields: {},
    message: `The resource could not be found: ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
  };
}
