// Branded identifiers and the only place that mints them. Parsers elsewhere may brand ids they
// have validated; nothing else casts a string to an id type.
import { randomUUID } from 'node:crypto';

export type Brand<T, B extends string> = T & { readonly __brand: B };

export type DomainId = Brand<string, 'DomainId'>;
export type ProjectId = Brand<string, 'ProjectId'>;
export type UserId = Brand<string, 'UserId'>;
export type GroupId = Brand<string, 'GroupId'>;
export type RoleId = Brand<string, 'RoleId'>;
export type ServiceId = Brand<string, 'ServiceId'>;
export type EndpointId = Brand<string, 'EndpointId'>;
export type RegionId = Brand<string, 'RegionId'>;
export type AppCredId = Brand<string, 'AppCredId'>;
export type RequestId = Brand<string, 'RequestId'>;

/** Keystone's ids are UUID4 without dashes. */
export function hexId<T extends Brand<string, string>>(): T {
  return randomUUID().replaceAll('-', '') as T;
}

export function newRequestId(): RequestId {
  return `req-${randomUUID()}` as RequestId;
}

/** The id of Keystone's built-in default domain. */
export const DEFAULT_DOMAIN_ID = 'default' as DomainId;
