// The one shape of a resource's state machine and its one writer. A transition table maps each
// action to the values its state columns may hold before it (`from`) and the values it sets (`to`);
// compareAndSwap applies one action as a single guarded UPDATE, so of two racing actions one finds
// no row to change and gets a 409, never a mix of both.
import type { Kysely } from 'kysely';
import type { Executor } from './store-helpers.ts';
import type { InvalidState } from '../errors.ts';

/** A resource's state columns (named as in its table) and the values each may hold; null: unset. */
export type StateShape = { readonly [column: string]: string | null };

export interface Transition<S extends StateShape> {
  /** For every state column, the values the action may start from (null: the column is unset). */
  readonly from: { readonly [C in keyof S]: readonly S[C][] };
  /** The values it sets; a column it does not name is left as it is. */
  readonly to: { readonly [C in keyof S]?: S[C] };
}

/** A resource's table: every action's transition (`X` when the resource narrows the shape). */
export type TransitionTable<
  S extends StateShape,
  A extends string = string,
  X extends Transition<S> = Transition<S>,
> = { readonly [action in A]: X };

/** Whether `t` may start from `state`: the compareAndSwap guard, evaluated in memory. */
export function allows<S extends StateShape>(t: Transition<S>, state: S): boolean {
  return Object.entries(t.from).every(([c, values]) =>
    (values as readonly (string | null)[]).includes(state[c] ?? null),
  );
}

type Columns<DB, T extends keyof DB> = keyof DB[T] & string;

export interface SwapOptions<DB, T extends keyof DB, S extends StateShape> {
  /** Other columns written by the same UPDATE (the host chosen, a checksum, updated_at, ...). */
  readonly set?: { readonly [C in Columns<DB, T>]?: DB[T][C] };
  /** Equalities a row must also meet to count as there at all (null: IS NULL), e.g. not deleted. */
  readonly scope?: { readonly [C in Columns<DB, T>]?: DB[T][C] | null };
  /** The resource's refusal, built from the state the row was found in. */
  refuse(current: S): InvalidState;
}

// The builder is typed per table; this helper is generic over tables (and over the service's
// tables type `DB`), so its queries go through an untyped view of the same executor. The signature above keeps callers to real column names.
type Untyped = Kysely<Record<string, Record<string, unknown>>>;

/**
 * Applies `t` to row `id` of `table` as one UPDATE ... WHERE id = ? AND each state column is one
 * of its `from` values. Returns true when the row changed, false when there is no such row (in
 * `scope`); throws `refuse(current state)` when the row is in a state `t` does not start from.
 */
export async function compareAndSwap<
  DB,
  T extends keyof DB & string,
  // State columns must be columns of `table`.
  S extends StateShape & {
    readonly [C in keyof S]: C extends Columns<DB, T> ? string | null : never;
  },
>(
  db: Executor<DB>,
  table: T,
  idColumn: Columns<DB, T>,
  id: string,
  t: Transition<S>,
  opts: SwapOptions<DB, T, S>,
): Promise<boolean> {
  const q = db as unknown as Untyped;
  const scope = Object.entries(opts.scope ?? {});
  const r = await q
    .updateTable(table as string)
    .set({ ...opts.set, ...t.to })
    .where(idColumn as string, '=', id)
    .where((eb) =>
      eb.and([
        ...scope.map(([c, v]) => (v === null ? eb(c, 'is', null) : eb(c, '=', v))),
        ...Object.entries(t.from).map(([c, allowed]) => {
          const values = (allowed as readonly (string | null)[]).filter((v) => v !== null);
          return eb.or([
            ...(values.length > 0 ? [eb(c, 'in', values)] : []),
            ...((allowed as readonly (string | null)[]).includes(null) ? [eb(c, 'is', null)] : []),
          ]);
        }),
      ]),
    )
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) > 0) return true;
  const current = await q
    .selectFrom(table as string)
    .select(Object.keys(t.from))
    .where(idColumn as string, '=', id)
    .where((eb) => eb.and(scope.map(([c, v]) => (v === null ? eb(c, 'is', null) : eb(c, '=', v)))))
    .executeTakeFirst();
  if (!current) return false;
  throw opts.refuse(current as S);
}
