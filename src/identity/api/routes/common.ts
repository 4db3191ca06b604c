// Small helpers shared by identity's route files: reading query filters and the base URL type.
import { BadRequest } from '../../../platform/errors.ts';
import { first, type Query } from '../../../platform/http/schema.ts';

export type { BaseUrl } from '../../../platform/http/mount.ts';

export function query(request: { query: Query }, name: string): string | undefined {
  return first(request.query[name]);
}

/** Keystone's boolean query values: a bare `?enabled` or true/1/yes mean true. */
export function queryBool(request: { query: Query }, name: string): boolean | undefined {
  const v = query(request, name);
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  if (['', 'true', '1', 'yes', 'on'].includes(l)) return true;
  if (['false', '0', 'no', 'off'].includes(l)) return false;
  throw new BadRequest(
    `Invalid value for query parameter ${name}: ${JSON.stringify(v)}; use true or false.`,
  );
}

/** Only keys present in the object, so `exactOptionalPropertyTypes` patches carry no undefined. */
export function present<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
