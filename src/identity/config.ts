// The identity service's configuration section: token lifetime, the token key ring and the
// password hash's cost, with their defaults (Keystone's names in index.ts's IdentityConfig).
import { defineSection } from '../platform/config/section.ts';
import { DEFAULT_ARGON2 } from '../platform/auth/password.ts';
import type { IdentityConfig } from './index.ts';

export type { IdentityConfig } from './index.ts';

export const DEFAULT_IDENTITY_CONFIG: IdentityConfig = {
  tokenTtlSeconds: 3600,
  maxActiveKeys: 3,
  argon2: DEFAULT_ARGON2,
};

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
      },
    };
  },
});
