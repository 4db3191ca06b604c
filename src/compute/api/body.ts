// The one check compute's semantic parsers make on nested values the route schema leaves open
// (a network entry, an action's argument): is it a JSON object. Body shapes are route schemas.

/** True for a JSON object (not null, not an array), which may then be read by key. */
export function isObject(v: unknown): v is Readonly<Record<string, unknown>> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
