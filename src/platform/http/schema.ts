// Request schemas whose TypeScript type follows the JSON Schema: each builder returns a plain JSON
// Schema object (what Fastify's ajv validates) carrying its type only at the type level, and
// `SchemaTypes` lets Fastify hand handlers typed params, query and body. No runtime beyond JSON.
import type { FastifyTypeProvider } from 'fastify';

declare const typeOf: unique symbol;

/** A JSON Schema whose valid instances have type T (the symbol key is for the compiler only). */
export interface Schema<T = unknown> {
  readonly [typeOf]?: T;
  readonly [keyword: string]: unknown;
}

/** The type of a value that validated against S. */
export type Static<S> = S extends Schema<infer T> ? T : unknown;

/** Fastify's type provider for these schemas: request.params/query/body get Static<schema>. */
export interface SchemaTypes extends FastifyTypeProvider {
  readonly validator: this['schema'] extends Schema<infer T> ? T : unknown;
  readonly serializer: unknown;
}

type Props = Readonly<Record<string, Schema>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The named properties (required or optional) and, as JSON Schema allows by default, others. */
type ObjectOf<P extends Props, R extends keyof P> = Simplify<
  { [K in R]: Static<P[K]> } & { [K in Exclude<keyof P, R>]?: Static<P[K]> }
> & { readonly [extra: string]: unknown };

interface StringOptions {
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
}
interface NumberOptions {
  readonly minimum?: number;
  readonly maximum?: number;
}
interface ObjectOptions<R> {
  readonly required?: readonly R[];
  readonly maxProperties?: number;
}

const schema = <T>(json: Record<string, unknown>): Schema<T> => json as Schema<T>;

export const s = {
  /** Any JSON value; the handler's parser decides. */
  unknown: (): Schema<unknown> => schema({}),
  string: (o: StringOptions = {}): Schema<string> => schema({ type: 'string', ...o }),
  /** One of the given strings. */
  literal: <const V extends readonly string[]>(values: V): Schema<V[number]> =>
    schema({ type: 'string', enum: values }),
  integer: (o: NumberOptions = {}): Schema<number> => schema({ type: 'integer', ...o }),
  boolean: (): Schema<boolean> => schema({ type: 'boolean' }),
  /** The same schema, or null. */
  nullable: <T>(of: Schema<T>): Schema<T | null> => {
    const type = of['type'];
    if (typeof type !== 'string') throw new Error('nullable needs a schema with one type');
    const e = of['enum'];
    return schema({
      ...of,
      type: [type, 'null'],
      ...(Array.isArray(e) ? { enum: [...(e as unknown[]), null] } : {}),
    });
  },
  array: <T>(items: Schema<T>, o: { minItems?: number; maxItems?: number } = {}): Schema<T[]> =>
    schema({ type: 'array', items, ...o }),
  object: <const P extends Props, R extends keyof P & string = never>(
    properties: P,
    o: ObjectOptions<R> = {},
  ): Schema<ObjectOf<P, R>> => schema({ type: 'object', properties, ...o }),
  /** An object of any keys whose values all match `values`. */
  record: <T>(values: Schema<T>): Schema<Record<string, T>> =>
    schema({ type: 'object', additionalProperties: values }),
  oneOf: <const A extends readonly Schema[]>(...of: A): Schema<Static<A[number]>> =>
    schema({ oneOf: of }),
};

/** Route params: each named segment is a string (Fastify decodes them, ajv checks they exist). */
export function params<const K extends readonly string[]>(
  ...names: K
): Schema<{ readonly [P in K[number]]: string }> {
  return schema({
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])),
    required: names,
  });
}

/** A query string as Fastify parses it: each key once (a string) or repeated (a list). */
export const query: Schema<Readonly<Record<string, string | string[]>>> = s.record(
  s.oneOf(s.string(), s.array(s.string())),
);

export type Query = Static<typeof query>;

/** The first value of a query key (clients that repeat a single-valued key get the first). */
export function first(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}
