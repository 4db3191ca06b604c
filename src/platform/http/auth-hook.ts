// Puts the caller's validated token on every request of a scope (request.auth), unless the route
// says `config: { public: true }`. Identity does the validating; this file only wires it in.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthContext } from '../auth/context.ts';

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

export function installAuth(scope: FastifyInstance, authenticate: Authenticate): void {
  if (!scope.hasRequestDecorator('auth'))
    scope.decorateRequest('auth', null as unknown as AuthContext);
  // Before schema validation, so a caller without a valid token learns that first (401, not 400).
  scope.addHook('preValidation', async (request: FastifyRequest) => {
    if (request.routeOptions.config.public) return;
    const token = request.headers['x-auth-token'];
    request.auth = await authenticate(typeof token === 'string' ? token : undefined);
  });
}

/** The caller if a valid token came with a public route, else undefined. */
export async function optionalAuth(
  request: FastifyRequest,
  authenticate: Authenticate,
): Promise<AuthContext | undefined> {
  const token = request.headers['x-auth-token'];
  return typeof token === 'string' ? authenticate(token) : undefined;
}
