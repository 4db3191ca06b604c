// Readers for writing the parsers of bus messages (rpc.ts, notifications.ts): each checks one
// field of a JSON object and throws a BadRequest that names the message and the field. No schema
// library: a parser is a plain function, `(v: JsonValue) => T`, built from these.
import { BadRequest } from '../errors.ts';
import type { JsonValue } from './bus.ts';

/** A value that survives JSON.stringify unchanged: what a wire type may hold (no Buffer, Date or
 * function). Messages are objects checked with `T extends WireObject<T>`, so sending one needs no cast. */
export type Wire<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends (...args: never[]) => unknown
    ? never
    : T extends readonly (infer U)[]
      ? readonly Wire<U>[]
      : T extends object
        ? { readonly [K in keyof T]: Wire<T[K]> }
        : never;

/** An object message whose every field is Wire (a mapped type, so that it can bound its own T). */
export type WireObject<T> = { readonly [K in keyof T]: Wire<T[K]> };

export interface Fields {
  /** The object itself, for fields read some other way. */
  readonly raw: Readonly<Record<string, JsonValue>>;
  string(k: string, opts?: { nonEmpty?: boolean; max?: number; pattern?: RegExp }): string;
  /** A string or null (absent counts as null). */
  stringOrNull(k: string): string | null;
  /** A non-negative safe integer. */
  count(k: string): number;
  boolean(k: string): boolean;
  /** An optional boolean: absent is undefined. */
  optionalBoolean(k: string): boolean | undefined;
  stringList(k: string): string[];
  /** An optional list of strings: absent is undefined. */
  optionalStringList(k: string): string[] | undefined;
  /** One of `allowed`. */
  oneOf<const T extends string>(k: string, allowed: readonly T[]): T;
  /** A field that must be present, of any JSON type. */
  value(k: string): JsonValue;
}

/** Reads the fields of `v`, which must be a JSON object; `what` names it in error messages. */
export function fields(v: JsonValue | undefined, what: string): Fields {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v))
    throw new BadRequest(`${what} must be an object`);
  const o = v;
  const bad = (k: string, must: string): never => {
    throw new BadRequest(`${what}: ${k} must be ${must}`);
  };
  const strings = (k: string): string[] => {
    const x = o[k];
    if (!Array.isArray(x) || x.some((s) => typeof s !== 'string')) bad(k, 'a list of strings');
    return x as string[];
  };
  return {
    raw: o,
    string(k, opts = {}) {
      const x = o[k];
      if (typeof x !== 'string') return bad(k, 'a string');
      if (opts.nonEmpty && x === '') bad(k, 'a non-empty string');
      if (opts.max !== undefined && x.length > opts.max) bad(k, `at most ${opts.max} characters`);
      if (opts.pattern && !opts.pattern.test(x)) bad(k, `a string matching ${opts.pattern}`);
      return x;
    },
    stringOrNull(k) {
      const x = o[k];
      if (x === undefined || x === null) return null;
      return typeof x === 'string' ? x : bad(k, 'a string or null');
    },
    count(k) {
      const x = o[k];
      return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : bad(k, 'a count');
    },
    boolean(k) {
      const x = o[k];
      return typeof x === 'boolean' ? x : bad(k, 'true or false');
    },
    optionalBoolean(k) {
      const x = o[k];
      if (x === undefined) return undefined;
      return typeof x === 'boolean' ? x : bad(k, 'true or false');
    },
    stringList: strings,
    optionalStringList: (k) => (o[k] === undefined ? undefined : strings(k)),
    oneOf(k, allowed) {
      const x = o[k];
      return typeof x === 'string' && (allowed as readonly string[]).includes(x)
        ? (x as (typeof allowed)[number])
        : bad(k, `one of ${allowed.join(', ')}`);
    },
    value(k) {
      const x = o[k];
      return x === undefined ? bad(k, 'present') : x;
    },
  };
}

/** The parser of an empty reply (a handler that returns nothing answers null). */
export const nothing = (v: JsonValue): void => {
  if (v !== null && v !== undefined) throw new BadRequest('expected no reply');
};
