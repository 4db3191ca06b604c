// Reading request bodies as Nova's schemas do: the one helper every compute route uses for the
// object it expects, with Nova's 400 when it is missing or not an object.
import { BadRequest } from '../../platform/errors.ts';

/** body[key] as an object (or the body itself for key ''), else a 400. */
export function requireObject(body: unknown, key: string): Record<string, unknown> {
  const v = key === '' ? body : (body as Record<string, unknown> | undefined)?.[key];
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new BadRequest(
      key
        ? `Invalid input: the body needs a "${key}" object.`
        : 'Invalid input: the body must be a JSON object.',
      'bad_request',
    );
  return v as Record<string, unknown>;
}
