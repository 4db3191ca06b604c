// OpenStack microversions: reads the version a client asks for (`OpenStack-API-Version: <service>
// X.Y`, or a service's legacy header), checks it against the range a service implements, puts it on
// the request, and echoes it in the response with `Vary`. Each service mounts it on its own scope.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequest, NubesError } from '../errors.ts';

/** A microversion, comparable as (major, minor). */
export class Microversion {
  readonly major: number;
  readonly minor: number;
  constructor(major: number, minor: number) {
    this.major = major;
    this.minor = minor;
  }
  static parse(text: string): Microversion | undefined {
    const m = /^(\d+)\.(\d+)$/.exec(text.trim());
    return m ? new Microversion(Number(m[1]), Number(m[2])) : undefined;
  }
  compare(o: Microversion): number {
    return this.major - o.major || this.minor - o.minor;
  }
  /** True when this version is `v` or later, e.g. `request.microversion.atLeast('2.55')`. */
  atLeast(v: string): boolean {
    return this.compare(Microversion.parse(v)!) >= 0;
  }
  toString(): string {
    return `${this.major}.${this.minor}`;
  }
}

export interface MicroversionRange {
  /** The service type in `OpenStack-API-Version` (e.g. 'compute'). */
  readonly service: string;
  /** An older header some clients still send (e.g. 'X-OpenStack-Nova-API-Version'). */
  readonly legacyHeader?: string;
  readonly min: string;
  readonly max: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The negotiated microversion of this request (the minimum when the client asked for none). */
    microversion: Microversion;
  }
}

/** The version asked for by the request's headers; undefined when it asks for none. */
function requested(request: FastifyRequest, range: MicroversionRange): string | undefined {
  const header = request.headers['openstack-api-version'];
  for (const value of Array.isArray(header) ? header : header ? header.split(',') : []) {
    const [service, version] = value.trim().split(/\s+/);
    if (service?.toLowerCase() === range.service && version) return version;
  }
  const legacy = range.legacyHeader ? request.headers[range.legacyHeader.toLowerCase()] : undefined;
  return typeof legacy === 'string' && legacy !== '' ? legacy : undefined;
}

export function negotiateMicroversion(
  request: FastifyRequest,
  range: MicroversionRange,
): Microversion {
  const min = Microversion.parse(range.min)!;
  const max = Microversion.parse(range.max)!;
  const asked = requested(request, range);
  if (asked === undefined) return min;
  if (asked.toLowerCase() === 'latest') return max;
  const v = Microversion.parse(asked);
  if (!v)
    throw new BadRequest(
      `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`,
      'microversion_invalid',
    );
  if (v.compare(min) < 0 || v.compare(max) > 0) {
    throw new NubesError(
      'microversion_unsupported',
      406,
      `Version ${asked} is not supported by the API. Minimum is ${range.min} and maximum is ${range.max}.`,
    );
  }
  return v;
}

/** Negotiates on every request of `scope` and sets the response headers that say what was used. */
export function installMicroversions(scope: FastifyInstance, range: MicroversionRange): void {
  if (!scope.hasRequestDecorator('microversion'))
    scope.decorateRequest('microversion', null as unknown as Microversion);
  const vary = ['OpenStack-API-Version', ...(range.legacyHeader ? [range.legacyHeader] : [])].join(
    ', ',
  );
  scope.addHook('onRequest', async (request, reply) => {
    // The headers go out with errors too, so they are set before negotiation can fail.
    reply.header('vary', vary);
    request.microversion = Microversion.parse(range.min)!;
    request.microversion = negotiateMicroversion(request, range);
    reply.header('openstack-api-version', `${range.service} ${request.microversion}`);
    if (range.legacyHeader)
      reply.header(range.legacyHeader.toLowerCase(), request.microversion.toString());
  });
}
