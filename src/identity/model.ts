// Identity's domain records, as the store returns them and the service and views use them.
// camelCase, readonly, no database types.

import type { AccessRule } from '../platform/auth/access-rules.ts';

export type Extra = Readonly<Record<string, unknown>>;

export interface Domain {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly extra: Extra;
}
export interface Project {
  readonly id: string;
  readonly name: string;
  readonly domainId: string;
  readonly parentId: string | null;
  readonly description: string;
  readonly enabled: boolean;
  readonly tags: readonly string[];
  readonly extra: Extra;
}
export interface User {
  readonly id: string;
  readonly name: string;
  readonly domainId: string;
  readonly enabled: boolean;
  readonly defaultProjectId: string | null;
  readonly passwordHash: string | null;
  readonly passwordExpiresAt: number | null;
  /** Keystone's user options that are set (an unset option is absent). */
  readonly options: UserOptions;
  readonly extra: Extra;
}
/** The user options Nubes honours, as Keystone names them; each exempts the user from one rule of
 * the identity.security_compliance settings (or, lock_password, stops them changing their own). */
export const USER_OPTION_NAMES = [
  'ignore_change_password_upon_first_use',
  'ignore_password_expiry',
  'ignore_lockout_failure_attempts',
  'lock_password',
  'ignore_user_inactivity',
] as const;
export type UserOptionName = (typeof USER_OPTION_NAMES)[number];
export type UserOptions = { readonly [K in UserOptionName]?: boolean };
/** What the password rules keep per user beyond its record: failed sign-ins, the last one that
 * worked, and the current password's age and origin. */
export interface SignInState {
  readonly failedAuthCount: number;
  readonly failedAuthAt: number | null;
  /** The day of the last successful password sign-in (or of the last enabling by an administrator). */
  readonly lastActiveAt: number | null;
  readonly createdAt: number;
  readonly passwordCreatedAt: number | null;
  /** The current password was set by its user (POST /v3/users/{id}/password), not an administrator. */
  readonly passwordSelfService: boolean;
}
export interface Group {
  readonly id: string;
  readonly name: string;
  readonly domainId: string;
  readonly description: string;
  readonly extra: Extra;
}
export interface Role {
  /** `domainId` is null for global roles. */
  readonly id: string;
  readonly name: string;
  readonly domainId: string | null;
  readonly description: string;
  readonly options: Extra;
  readonly extra: Extra;
}
/** Who holds a role where (the assignment table's `type` column; store/roles.ts checks they agree). */
export type AssignmentType =
  'UserProject' | 'GroupProject' | 'UserDomain' | 'GroupDomain' | 'UserSystem' | 'GroupSystem';
export interface Assignment {
  readonly type: AssignmentType;
  readonly actorId: string;
  readonly targetId: string;
  readonly roleId: string;
  readonly inherited: boolean;
}
export interface Region {
  readonly id: string;
  readonly description: string;
  readonly parentRegionId: string | null;
  readonly extra: Extra;
}
export interface CatalogService {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly extra: Extra;
}
export type Interface = 'public' | 'internal' | 'admin';
export interface Endpoint {
  readonly id: string;
  readonly serviceId: string;
  readonly interface: Interface;
  readonly regionId: string | null;
  readonly url: string;
  readonly enabled: boolean;
  readonly extra: Extra;
}
export interface AppCredential {
  readonly id: string;
  readonly name: string;
  readonly userId: string;
  readonly projectId: string;
  readonly secretHash: string;
  readonly description: string;
  readonly expiresAt: number | null;
  readonly unrestricted: boolean;
  readonly roles: readonly {
    readonly id: string;
    readonly name: string;
    readonly domainId: string | null;
  }[];
  /** Empty: the credential may call anything its roles allow. */
  readonly accessRules: readonly AccessRule[];
}

/** The system scope target id, as Keystone names it. */
export const SYSTEM_TARGET = 'system';
