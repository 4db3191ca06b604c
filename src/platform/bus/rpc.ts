// Typed rpc over the bus: a service declares what crosses one of its targets as a table (method →
// request parser, and reply parser for calls), and gets from it a client whose calls return parsed
// replies and a server whose handlers are exhaustive and receive parsed requests. The server
// parses every request and the caller every reply, so neither end trusts the other's shape.
import type { Bus, CallOptions, JsonValue, Subscription } from './bus.ts';
import { BadRequest, NubesError } from '../errors.ts';
import type { WireObject } from './wire.ts';

/** Checks a received JSON value and returns it typed; throws a BadRequest saying what is wrong. */
export type Parser<T> = (v: JsonValue) => T;

/** A method answered with a reply (`Bus.call`). */
export interface CallSpec<Req, Rep> {
  readonly kind: 'call';
  readonly request: Parser<Req>;
  readonly reply: Parser<Rep>;
  /** How long a caller waits by default (the bus's default when absent). */
  readonly timeoutMs?: number;
}

/** A method sent without waiting (`Bus.cast`); whatever it leads to comes back as another message. */
export interface CastSpec<Req> {
  readonly kind: 'cast';
  readonly request: Parser<Req>;
}

export type MethodSpec = CallSpec<unknown, unknown> | CastSpec<unknown>;
/** What one target serves: method name → its spec. */
export type Protocol = Readonly<Record<string, MethodSpec>>;

/** Declares a call; request and reply must be JSON objects (WireObject), or no reply. */
export const call = <Req extends WireObject<Req>, Rep extends WireObject<Rep> | void>(
  request: Parser<Req>,
  reply: Parser<Rep>,
  opts: { readonly timeoutMs?: number } = {},
): CallSpec<Req, Rep> => ({ kind: 'call', request, reply, ...opts });

/** Declares a cast; the request must be a JSON object (WireObject). */
export const cast = <Req extends WireObject<Req>>(request: Parser<Req>): CastSpec<Req> => ({
  kind: 'cast',
  request,
});

export type RequestOf<S> = S extends { readonly request: Parser<infer R> } ? R : never;
export type ReplyOf<S> = S extends CallSpec<unknown, infer R> ? R : void;
export type CallsOf<P extends Protocol> = {
  [M in keyof P]: P[M] extends { readonly kind: 'call' } ? M : never;
}[keyof P] &
  string;
export type CastsOf<P extends Protocol> = {
  [M in keyof P]: P[M] extends { readonly kind: 'cast' } ? M : never;
}[keyof P] &
  string;

/** One handler per method of the protocol, no more and no fewer. */
export type Handlers<P extends Protocol> = {
  readonly [M in keyof P]: (req: RequestOf<P[M]>) => Promise<ReplyOf<P[M]>> | ReplyOf<P[M]>;
};

export interface RpcClient<P extends Protocol> {
  readonly target: string;
  /** Sends the request and resolves with the parsed reply; a malformed reply rejects (BadReply). */
  call<M extends CallsOf<P>>(
    method: M,
    req: RequestOf<P[M]>,
    opts?: CallOptions,
  ): Promise<ReplyOf<P[M]>>;
  cast<M extends CastsOf<P>>(method: M, req: RequestOf<P[M]>): Promise<void>;
}

/** A reply that does not parse: the server speaks another version of the protocol, or has a bug. */
export class BadReply extends NubesError {
  constructor(target: string, method: string, why: string) {
    super('bus_bad_reply', 502, `the reply of ${target} to ${method} is malformed: ${why}`, {
      target,
      method,
    });
    this.name = 'BadReply';
  }
}

/** A message for a method the target's protocol does not have. */
export class UnknownMethod extends BadRequest {
  constructor(target: string, method: string) {
    super(`${target} does not handle ${method}`, 'bus_unknown_method', { target, method });
    this.name = 'UnknownMethod';
  }
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
const specOf = (p: Protocol, method: string): MethodSpec | undefined =>
  Object.hasOwn(p, method) ? p[method] : undefined;

/** The client of `target`, which serves `protocol`. */
export function rpcClient<P extends Protocol>(bus: Bus, target: string, protocol: P): RpcClient<P> {
  return {
    target,
    async call(method, req, opts = {}) {
      const spec = specOf(protocol, method);
      if (spec?.kind !== 'call') throw new UnknownMethod(target, method);
      const timeoutMs = opts.timeoutMs ?? spec.timeoutMs;
      const raw = await bus.call(
        target,
        method,
        (req ?? null) as unknown as JsonValue,
        timeoutMs === undefined ? {} : { timeoutMs },
      );
      try {
        return spec.reply(raw ?? null) as ReplyOf<P[typeof method]>;
      } catch (e) {
        throw new BadReply(target, method, why(e));
      }
    },
    async cast(method, req) {
      if (specOf(protocol, method)?.kind !== 'cast') throw new UnknownMethod(target, method);
      await bus.cast(target, method, (req ?? null) as unknown as JsonValue);
    },
  };
}

/**
 * Serves `target` with one handler per method of `protocol`. Each request is parsed before its
 * handler sees it: a malformed one is refused with a BadRequest naming the method, an unknown
 * method with UnknownMethod; both reach a caller as those errors (casts: the bus logs them).
 */
export async function serveRpc<P extends Protocol>(
  bus: Bus,
  target: string,
  protocol: P,
  handlers: Handlers<P>,
): Promise<Subscription> {
  const declared = Object.keys(protocol).sort();
  const handled = Object.keys(handlers).sort();
  if (declared.join('\n') !== handled.join('\n'))
    throw new Error(
      `handlers of ${target} must match its protocol: declared ${declared.join(', ')}; handled ${handled.join(', ')}`,
    );
  const table = handlers as unknown as Readonly<Record<string, (req: unknown) => unknown>>;
  return bus.serve(target, async (method, payload) => {
    const spec = specOf(protocol, method);
    if (!spec) throw new UnknownMethod(target, method);
    let req: unknown;
    try {
      req = spec.request(payload);
    } catch (e) {
      throw new BadRequest(`malformed ${method} request to ${target}: ${why(e)}`, 'bad_request', {
        target,
        method,
      });
    }
    const rep = await table[method]!(req);
    return spec.kind === 'call' && rep !== undefined ? (rep as JsonValue) : undefined;
  });
}
