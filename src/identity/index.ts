// The identity service as the rest of the program sees it: one factory that wires its use cases,
// and the typed entry points other services call (authenticate a token, read the catalog).
import type { DbHandle } from '../platform/db/database.ts';
import type { Policy } from '../platform/policy/policy.ts';
import type { Argon2Params } from '../platform/auth/password.ts';
import type { AuthContext } from '../platform/auth/context.ts';
import { identityPolicies } from './policies.ts';
import { createTokenService } from './service/tokens.ts';
import { createCatalogService } from './service/catalog.ts';
import { createDirectoryService } from './service/directory.ts';
import { createRoleService } from './service/roles.ts';
import { createAssignmentLister } from './service/assignments.ts';
import { createAppCredentialService } from './service/app-credentials.ts';

export interface IdentityConfig {
  /** Lifetime of a new token (Keystone's [token] expiration, default 3600). */
  readonly tokenTtlSeconds: number;
  /** Token keys kept in the ring (Keystone's max_active_keys, default 3). */
  readonly maxActiveKeys: number;
  readonly argon2: Argon2Params;
}

export function createIdentity(deps: { db: DbHandle; policy: Policy; config: IdentityConfig }) {
  const { db, policy, config } = deps;
  policy.register(identityPolicies);
  const tokens = createTokenService({
    db,
    policy,
    config: {
      ttlSeconds: config.tokenTtlSeconds,
      maxActiveKeys: config.maxActiveKeys,
      argon2: config.argon2,
    },
  });
  const catalog = createCatalogService({ db, policy });
  const directory = createDirectoryService({ db, policy, tokens, argon2: config.argon2 });
  const roles = createRoleService({ db, policy, directory });
  const assignments = createAssignmentLister({ db, policy });
  const appCreds = createAppCredentialService({ db, policy, argon2: config.argon2 });
  return {
    tokens,
    catalog,
    directory,
    roles,
    assignments,
    appCreds,
    /** Validates a caller's X-Auth-Token for any service: the context, or a 401. */
    authenticate: (token: string | undefined): Promise<AuthContext> => tokens.authenticate(token),
  };
}

export type Identity = ReturnType<typeof createIdentity>;
