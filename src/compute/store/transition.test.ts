// Walks every (vm_state, task_state, action) of the instance state table through the real
// compare-and-swap UPDATE, on SQLite and on PostgreSQL when NUBES_TEST_DATABASE_URL is set: allowed
// pairs land on the table's states, all others are refused with a 409 and leave the row as it was.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storeDatabases } from '../../../test/support/store-databases.ts';
import { walkTransitions } from '../../../test/support/transition-walk.ts';
import type { ComputeExecutor, ComputeTables } from './tables.ts';
import {
  TASK_STATES,
  VM_STATES,
  instanceTransitions,
  type InstanceAction,
  type InstanceState,
} from '../states.ts';
import { insertInstances, transition } from './instances.ts';
import { testInstance } from '../../../test/support/test-instance.ts';

async function make(db: ComputeExecutor, state: InstanceState, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  await insertInstances(db, ids.map(testInstance));
  await db.updateTable('instances').set(state).where('id', 'in', ids).execute();
  return ids;
}

const ALL_STATES: InstanceState[] = VM_STATES.flatMap((vm_state) =>
  [null, ...TASK_STATES].map((task_state) => ({ vm_state, task_state })),
);

for (const variant of storeDatabases<ComputeTables>()) {
  describe(`instance state transitions (${variant.name})`, () => {
    it('every action changes a row exactly from the states the table lists', async () => {
      const { db, dialect, close } = await variant.open();
      try {
        const { allowed, refused } = await walkTransitions<InstanceState, InstanceAction>({
          states: ALL_STATES,
          table: instanceTransitions,
          make: (state, count) => make(db, state, count),
          apply: (id, action) => transition(db, id, action, { host: 'walked' }, 2),
          rows: async (ids) =>
            new Map(
              (await db.selectFrom('instances').selectAll().where('id', 'in', ids).execute()).map(
                (r) => [r.id, r],
              ),
            ),
          fields: { host: 'walked' },
          now: 2,
          concurrency: dialect === 'postgres' ? 8 : 1,
          refused: (e: any, state, action) =>
            e.status === 409 &&
            e.code === 'instance_invalid_state' &&
            e.fields.vmState === state.vm_state &&
            e.fields.taskState === state.task_state &&
            e.fields.action === action &&
            e.message.includes(`vm_state ${state.vm_state}`),
        });
        assert.equal(
          allowed + refused,
          ALL_STATES.length * Object.keys(instanceTransitions).length,
        );
        assert.ok(allowed > 0 && refused > 0);
      } finally {
        await close();
      }
    });

    it('a deleted or missing instance is undefined, not an error, and stays as it was', async () => {
      const { db, close } = await variant.open();
      try {
        const [id] = await make(db, { vm_state: 'active', task_state: null }, 1);
        await db.updateTable('instances').set({ deleted_at: 5 }).where('id', '=', id!).execute();
        const before = await db.selectFrom('instances').selectAll().where('id', '=', id!).execute();
        assert.equal(await transition(db, id!, 'stop', {}, 6), undefined);
        assert.equal(await transition(db, id!, 'deleted', {}, 6), undefined);
        assert.deepEqual(
          await db.selectFrom('instances').selectAll().where('id', '=', id!).execute(),
          before,
        );
        assert.equal(await transition(db, 'missing', 'stop', {}, 6), undefined);
      } finally {
        await close();
      }
    });
  });
}
