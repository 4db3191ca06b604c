// Puts the caller's validated token on every request of a scope (request.auth), unless the route
// says `config: { public: true }`, and refuses what the token's application credential access
// rules do not allow, for every service alike. Identity does the validating; this file wires it in.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth/context.ts';
import { allowedByAccessRules } from '../auth/access-rules.ts';
import { Unauthorized } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller; set for every non-public route, so handlers may rely on it. */
    auth: AuthContext;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (version documents, POST /auth/tokens). */
    public?: boolean;
  }
}

export type Authenticate = (token: string | undefined) => Promise<AuthContext>;

/** The service a scope serves, as access rules name it. */
export interface AuthTarget {
  /** The catalog's service type ('compute', 'image', 'identity', ...). */
  readonly serviceType: string;
  /** The mount prefix; rule paths are matched below it ('/v2.1/servers', not '/compute/v2.1/servers'). */
  readonly prefix: string;
}

export function installAuth(
  scope: FastifyInstance,
  authenticate: Authenticate,
  target: AuthTarget,
): void {
  if (!scope.hasRequestDecorator('auth'))
    scope.decorateRequest('auth', null as unknown as AuthContext);
  // Before schema validation, so a caller without a valid token learns that first (401, not 400).
  scope.addHook('preValidation', async (request: FastifyRequest) => {
    if (request.routeOptions.config.public) return;
    const token = request.headers['x-auth-token'];
    const auth = await authenticate(typeof token === 'string' ? token : undefined);
    checkAccessRules(auth, request, target);
    request.auth = auth;
  });
}

/** Keystone's middleware answers 401 to a request no access rule allows; so does this. */
export function checkAccessRules(
  auth: AuthContext,
  request: FastifyRequest,
  target: AuthTarget,
): void {
  const rules = auth.appCred?.accessRules;
  if (!rules || rules.length === 0) return;
  const q = request.url.indexOf('?');
  const full = q < 0 ? request.url : request.url.slice(0, q);
  const path = full.startsWith(`${target.prefix}/`) ? full.slice(target.prefix.length) : full;
  const method = request.method;
  if (allowedByAccessRules(rules, { service: target.serviceType, method, path })) return;
  throw new Unauthorized(
    `The token comes from application credential ${auth.appCred!.id}, whose access rules do not allow ${method} ${path} on service ${target.serviceType}; use a credential with a rule for it (service, method and path), or another one without access rules.`,
    'access_rules_denied',
  );
}

/** The caller if a valid token came with a public route, else undefined. */
export async function optionalAuth(
  request: FastifyRequest,
  authenticate: Authenticate,
  target: AuthTarget,
): Promise<AuthContext | undefined> {
  const token = request.headers['x-auth-token'];
  if (typeof token !== 'string') return undefined;
  const auth = await authenticate(token);
  checkAccessRules(auth, request, target);
  return auth;
}
