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
import { createIdentityNotifications } from './service/notifications.ts';
import type { Bus } from '../platform/bus/bus.ts';
import type { Logger } from '../platform/log.ts';
import { createPasswordRules, type PasswordRulesConfig } from './service/password-rules.ts';

export {
  IDENTITY_NOTIFICATIONS,
  IDENTITY_NOTIFICATION_TOPIC,
  type BasicPayload,
  type CadfPayload,
  type IdentityCatalogue,
} from './service/notifications.ts';

export interface IdentityConfig {
  /** Lifetime of a new token (Keystone's [token] expiration, default 3600). */
  readonly tokenTtlSeconds: number;
  /** Token keys kept in the ring (Keystone's max_active_keys, default 3). */
  readonly maxActiveKeys: number;
  readonly argon2: Argon2Params;
  /** Keystone's [security_compliance]: lockout and password rules, all off by default. */
  readonly passwordRules: PasswordRulesConfig;
}

export function createIdentity(deps: { db: DbHandle; policy: Policy; config: IdentityConfig }) {
  const { db, policy, config } = deps;
  policy.register(identityPolicies);
  const notifications = createIdentityNotifications({
    now: Date.now,
    // The CADF observer is the identity service as the catalog lists it, as in Keystone.
    observerId: async () => (await catalog.catalog()).find((e) => e.type === 'identity')?.id,
  });
  const passwordRules = createPasswordRules({
    db,
    argon2: config.argon2,
    rules: config.passwordRules,
  });
  const tokens = createTokenService({
    db,
    policy,
    notifications,
    config: {
      ttlSeconds: config.tokenTtlSeconds,
      maxActiveKeys: config.maxActiveKeys,
      argon2: config.argon2,
      passwordRules,
    },
  });
  const catalog = createCatalogService({ db, policy, notifications });
  const directory = createDirectoryService({
    db,
    policy,
    tokens,
    argon2: config.argon2,
    passwordRules,
    notifications,
  });
  const roles = createRoleService({ db, policy, directory, notifications });
  const assignments = createAssignmentLister({ db, policy });
  const appCreds = createAppCredentialService({
    db,
    policy,
    argon2: config.argon2,
    notifications,
  });
  return {
    tokens,
    catalog,
    directory,
    roles,
    assignments,
    appCreds,
    /** Announces identity.* on `bus` as identity.<host> from now on; send failures go to `log`. */
    notifyOn: (bus: Bus, host: string, log?: Logger): void => notifications.attach(bus, host, log),
    /** Validates a caller's X-Auth-Token for any service: the context, or a 401. */
    authenticate: (token: string | undefined): Promise<AuthContext> => tokens.authenticate(token),
  };
}

export type Identity = ReturnType<typeof createIdentity>;
