// Small helpers shared by identity's route files: reading query filters and bodies.
import type { FastifyRequest } from 'fastify';
import { BadRequest } from '../../../platform/errors.ts';

export type BaseUrl = (request: FastifyRequest) => string;

export function query(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** Keystone's boolean query values: a bare `?enabled` or true/1/yes mean true. */
export function queryBool(request: FastifyRequest, name: string): boolean | undefined {
  const v = query(request, name);
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  if (['', 'true', '1', 'yes', 'on'].includes(l)) return true;
  if (['false', '0', 'no', 'off'].includes(l)) return false;
  throw new BadRequest(
    `Invalid value for query parameter ${name}: ${JSON.stringify(v)}; use true or false.`,
  );
}

export function inner<T = Record<string, unknown>>(request: FastifyRequest, key: string): T {
  return (request.body as Record<string, unknown>)[key] as T;
}

export const params = (request: FastifyRequest) => request.params as Record<string, string>;

/** Only keys present in the object, so `exactOptionalPropertyTypes` patches carry no undefined. */
export function present<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
