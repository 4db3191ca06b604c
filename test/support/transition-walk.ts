// Walks a resource's whole transition table through its store's real compare-and-swap UPDATE: a
// row in every state meets every action, and must change exactly when the table lets the action
// start from that state, to the table's values (plus the fields set with it), or else be refused
// with a 409 and left as it was, to the last column.
import assert from 'node:assert/strict';
import type { StateShape, TransitionTable } from '../../src/platform/db/transitions.ts';

type Row = Readonly<Record<string, unknown>>;

export interface Walk<S extends StateShape, A extends string> {
  /** Every state a row can be in (all combinations of the state columns). */
  readonly states: readonly S[];
  readonly table: TransitionTable<S, A>;
  /** Makes `count` rows in `state` (updated_at before `now`); returns their ids. */
  make(state: S, count: number): Promise<string[]>;
  /** Applies `action` through the store with `fields` and `now`; resolves to the changed resource. */
  apply(id: string, action: A): Promise<unknown>;
  /** The rows as stored, every column, by id. */
  rows(ids: readonly string[]): Promise<ReadonlyMap<string, Row>>;
  /** What the store sets besides the states, on an allowed action only. */
  readonly fields: Row;
  /** The updated_at the store is given. */
  readonly now: number;
  /** How many states to walk at once (default 1). */
  readonly concurrency?: number;
  /** Checks the store's refusal names the state the row was found in. */
  refused(e: unknown, state: S, action: A): boolean;
}

/** Returns how many (state, action) pairs were allowed and how many refused. */
export async function walkTransitions<S extends StateShape, A extends string>(
  w: Walk<S, A>,
): Promise<{ allowed: number; refused: number }> {
  const actions = Object.keys(w.table) as A[];
  let allowed = 0;
  let refused = 0;
  async function walk(state: S): Promise<void> {
    const ids = await w.make(state, actions.length);
    const before = await w.rows(ids);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    for (const [i, action] of actions.entries())
      outcomes.push(
        await w.apply(ids[i]!, action).then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      );
    const after = await w.rows(ids);
    actions.forEach((action, i) => {
      const t = w.table[action];
      const id = ids[i]!;
      // Plain objects: a driver may hand rows out with a null prototype.
      const was = { ...before.get(id) };
      const now = { ...after.get(id) };
      const pair = `${action} from ${JSON.stringify(state)}`;
      // Written out here rather than through the helper's allows(): the SQL is what is under test.
      const startsHere = Object.keys(t.from).every((c) =>
        (t.from[c] as readonly (string | null)[]).includes(state[c] ?? null),
      );
      const outcome = outcomes[i]!;
      if (startsHere) {
        allowed++;
        assert.ok(
          outcome.ok,
          `${pair} must be allowed: ${outcome.ok ? '' : String(outcome.error)}`,
        );
        assert.notEqual(outcome.value, undefined, `${pair} returns the changed resource`);
        assert.deepEqual(
          now,
          { ...was, ...state, ...t.to, ...w.fields, updated_at: w.now },
          `${pair} lands on the table's values, with the fields set alongside`,
        );
      } else {
        refused++;
        assert.ok(!outcome.ok, `${pair} must be refused`);
        assert.ok(w.refused(outcome.error, state, action), `${pair}: ${String(outcome.error)}`);
        assert.deepEqual(now, was, `${pair} leaves the row untouched`);
      }
    });
  }
  // Rows of different states at once on a server database, where round trips overlap; one at a
  // time on SQLite, where they would only queue for its one connection.
  const width = w.concurrency ?? 1;
  for (let at = 0; at < w.states.length; at += width)
    await Promise.all(w.states.slice(at, at + width).map(walk));
  return { allowed, refused };
}
