// The identity service's configuration section: token lifetime, the token key ring, the password
// hash's cost and Keystone's [security_compliance] lockout and password rules (all off by default),
// with their defaults (Keystone's names in index.ts's IdentityConfig).
import { defineSection } from '../platform/config/section.ts';
import { ConfigError } from '../platform/config/setting.ts';
import { DEFAULT_ARGON2 } from '../platform/auth/password.ts';
import {
  PASSWORD_RULES_OFF,
  compilePasswordRegex,
  type PasswordRulesConfig,
} from './service/password-rules.ts';
import type { IdentityConfig } from './index.ts';

export type { IdentityConfig } from './index.ts';

export const DEFAULT_IDENTITY_CONFIG: IdentityConfig = {
  tokenTtlSeconds: 3600,
  maxActiveKeys: 3,
  argon2: DEFAULT_ARGON2,
  passwordRules: PASSWORD_RULES_OFF,
};

const SC = 'identity.security_compliance';

export const identitySection = defineSection({
  settings: [
    {
      key: 'identity.token_ttl_seconds',
      env: 'NUBES_TOKEN_TTL_SECONDS',
      kind: 'int',
      help: 'token lifetime (default 3600)',
    },
    {
      key: 'identity.max_active_keys',
      env: 'NUBES_MAX_ACTIVE_KEYS',
      kind: 'int',
      help: 'token keys kept on rotation (default 3)',
    },
    {
      key: 'identity.password_hash.memory_kib',
      env: 'NUBES_ARGON2_MEMORY_KIB',
      kind: 'int',
      help: 'Argon2id memory (default 65536)',
    },
    {
      key: 'identity.password_hash.passes',
      env: 'NUBES_ARGON2_PASSES',
      kind: 'int',
      help: 'Argon2id passes (default 3)',
    },
    {
      key: 'identity.password_hash.parallelism',
      env: 'NUBES_ARGON2_PARALLELISM',
      kind: 'int',
      help: 'Argon2id lanes (default 4)',
    },
    {
      key: `${SC}.lockout_failure_attempts`,
      env: 'NUBES_LOCKOUT_FAILURE_ATTEMPTS',
      kind: 'int',
      help: 'failed password sign-ins in a row that lock a user (default: no lockout)',
    },
    {
      key: `${SC}.lockout_duration`,
      env: 'NUBES_LOCKOUT_DURATION',
      kind: 'int',
      help: 'seconds a lock lasts after the last failure (default 1800)',
    },
    {
      key: `${SC}.password_regex`,
      env: 'NUBES_PASSWORD_REGEX',
      kind: 'string',
      help: 'regular expression every new password must match (default: any)',
    },
    {
      key: `${SC}.password_regex_description`,
      env: 'NUBES_PASSWORD_REGEX_DESCRIPTION',
      kind: 'string',
      help: 'the password_regex in words, told to users whose password does not match',
    },
    {
      key: `${SC}.password_expires_days`,
      env: 'NUBES_PASSWORD_EXPIRES_DAYS',
      kind: 'int',
      help: 'days a new password works before it must be changed (default: never expires)',
    },
    {
      key: `${SC}.unique_last_password_count`,
      env: 'NUBES_UNIQUE_LAST_PASSWORD_COUNT',
      kind: 'count',
      help: 'a new password must differ from this many latest ones (default 0: off)',
    },
    {
      key: `${SC}.minimum_password_age`,
      env: 'NUBES_MINIMUM_PASSWORD_AGE',
      kind: 'count',
      help: 'days before users may change again a password they set (default 0)',
    },
    {
      key: `${SC}.change_password_upon_first_use`,
      env: 'NUBES_CHANGE_PASSWORD_UPON_FIRST_USE',
      kind: 'switch',
      help: 'users change a password an administrator set before using it (default off)',
    },
    {
      key: `${SC}.disable_user_account_days_inactive`,
      env: 'NUBES_DISABLE_USER_ACCOUNT_DAYS_INACTIVE',
      kind: 'int',
      help: 'days without a sign-in after which a user counts as disabled (default: never)',
    },
  ],
  resolve(v): { readonly identity: IdentityConfig } {
    const d = DEFAULT_IDENTITY_CONFIG;
    return {
      identity: {
        tokenTtlSeconds: v['identity.token_ttl_seconds'] ?? d.tokenTtlSeconds,
        maxActiveKeys: v['identity.max_active_keys'] ?? d.maxActiveKeys,
        argon2: {
          memoryKiB: v['identity.password_hash.memory_kib'] ?? d.argon2.memoryKiB,
          passes: v['identity.password_hash.passes'] ?? d.argon2.passes,
          parallelism: v['identity.password_hash.parallelism'] ?? d.argon2.parallelism,
        },
        passwordRules: passwordRules({
          lockoutFailureAttempts: v[`${SC}.lockout_failure_attempts`],
          lockoutDurationSeconds: v[`${SC}.lockout_duration`],
          passwordRegex: v[`${SC}.password_regex`],
          passwordRegexDescription: v[`${SC}.password_regex_description`],
          passwordExpiresDays: v[`${SC}.password_expires_days`],
          uniqueLastPasswordCount: v[`${SC}.unique_last_password_count`],
          minimumPasswordAgeDays: v[`${SC}.minimum_password_age`],
          changePasswordUponFirstUse: v[`${SC}.change_password_upon_first_use`],
          disableUserAccountDaysInactive: v[`${SC}.disable_user_account_days_inactive`],
        }),
      },
    };
  },
});

/** The rules from the values given, defaults elsewhere; a password_regex that does not compile
 * stops the start rather than refusing every password later. */
function passwordRules(v: {
  readonly [K in keyof PasswordRulesConfig]: PasswordRulesConfig[K] | undefined;
}): PasswordRulesConfig {
  const d = PASSWORD_RULES_OFF;
  if (v.passwordRegex !== undefined && v.passwordRegex !== null) {
    try {
      compilePasswordRegex(v.passwordRegex);
    } catch (e) {
      throw new ConfigError(
        `${SC}.password_regex is not a valid regular expression: ${(e as Error).message}`,
      );
    }
  }
  return {
    lockoutFailureAttempts: v.lockoutFailureAttempts ?? d.lockoutFailureAttempts,
    lockoutDurationSeconds: v.lockoutDurationSeconds ?? d.lockoutDurationSeconds,
    passwordRegex: v.passwordRegex ?? d.passwordRegex,
    passwordRegexDescription: v.passwordRegexDescription ?? d.passwordRegexDescription,
    passwordExpiresDays: v.passwordExpiresDays ?? d.passwordExpiresDays,
    uniqueLastPasswordCount: v.uniqueLastPasswordCount ?? d.uniqueLastPasswordCount,
    minimumPasswordAgeDays: v.minimumPasswordAgeDays ?? d.minimumPasswordAgeDays,
    changePasswordUponFirstUse: v.changePasswordUponFirstUse ?? d.changePasswordUponFirstUse,
    disableUserAccountDaysInactive:
      v.disableUserAccountDaysInactive ?? d.disableUserAccountDaysInactive,
  };
}
