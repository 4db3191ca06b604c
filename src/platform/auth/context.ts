// Who is calling: the validated token as every service sees it. Identity builds it; other
// services read it (through identity's index.ts) and hand its `credentials` to the policy engine.
import type { Credentials } from '../policy/policy.ts';
import type { AccessRule } from './access-rules.ts';

export interface NamedRef {
  readonly id: string;
  readonly name: string;
}
export interface DomainRef extends NamedRef {}
export interface ProjectRef extends NamedRef {
  readonly domain: DomainRef;
}

export type AuthScope =
  | { readonly kind: 'unscoped' }
  | { readonly kind: 'project'; readonly project: ProjectRef }
  | { readonly kind: 'domain'; readonly domain: DomainRef }
  | { readonly kind: 'system' };

export interface AuthContext {
  readonly token: string;
  readonly user: {
    readonly id: string;
    readonly name: string;
    readonly domain: DomainRef;
    readonly passwordExpiresAt: number | null;
  };
  readonly scope: AuthScope;
  /** Effective roles (implied roles included); empty for unscoped tokens. */
  readonly roles: readonly NamedRef[];
  readonly methods: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly auditIds: readonly string[];
  readonly appCred: {
    readonly id: string;
    readonly name: string;
    readonly restricted: boolean;
    /** The requests the token may make (platform/http/auth-hook.ts); empty: any request. */
    readonly accessRules: readonly AccessRule[];
  } | null;
  /** The same facts, shaped for policy checks. */
  readonly credentials: Credentials;
}

export function credentialsOf(c: Omit<AuthContext, 'credentials' | 'token'>): Credentials {
  const s = c.scope;
  return {
    user_id: c.user.id,
    user_domain_id: c.user.domain.id,
    project_id: s.kind === 'project' ? s.project.id : null,
    project_domain_id: s.kind === 'project' ? s.project.domain.id : null,
    domain_id: s.kind === 'domain' ? s.domain.id : null,
    system_scope: s.kind === 'system' ? 'all' : null,
    roles: c.roles.map((r) => r.name.toLowerCase()),
  };
}
