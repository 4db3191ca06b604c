// The compare-and-swap helper's own contract, on a made-up two-column machine over the images
// table (status and disk_format as the "states"), on SQLite and PostgreSQL when configured: a null
// start value, a column left as it is, fields set alongside, a scope, and the refusal's state.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storeDatabases } from '../../../test/support/store-databases.ts';
import { InvalidState } from '../errors.ts';
import type { Executor } from './store-helpers.ts';
// A test may name a service's tables (the lint covers product code only): this one borrows images.
import type { ImageTables } from '../../image/store/tables.ts';
import { allows, compareAndSwap, type Transition } from './transitions.ts';

type Pair = { readonly status: 'a' | 'b' | 'c'; readonly disk_format: 'raw' | 'qcow2' | null };

const fromUnset: Transition<Pair> = {
  from: { status: ['a', 'b'], disk_format: [null, 'raw'] },
  to: { status: 'c' },
};
const never: Transition<Pair> = { from: { status: [], disk_format: [null] }, to: { status: 'a' } };

async function row(db: Executor<ImageTables>, id: string, state: Pair): Promise<void> {
  await db
    .insertInto('images')
    .values({
      id,
      name: null,
      visibility: 'private',
      protected: 0,
      os_hidden: 0,
      owner: 'p',
      container_format: null,
      min_disk: 0,
      min_ram: 0,
      size: null,
      virtual_size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      location: null,
      stage_key: null,
      pending_bytes: 0,
      created_at: 1,
      updated_at: 1,
      ...state,
    })
    .execute();
}

const read = (db: Executor<ImageTables>, id: string) =>
  db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

const refuse = (cur: Pair) => new InvalidState(`in ${cur.status}/${cur.disk_format}`, 'x', cur);

describe('transition tables in memory', () => {
  it('allows a start exactly when every column holds one of its listed values', () => {
    assert.ok(allows(fromUnset, { status: 'a', disk_format: null }));
    assert.ok(allows(fromUnset, { status: 'b', disk_format: 'raw' }));
    assert.ok(!allows(fromUnset, { status: 'b', disk_format: 'qcow2' }));
    assert.ok(!allows(fromUnset, { status: 'c', disk_format: null }));
    assert.ok(!allows(never, { status: 'a', disk_format: null }));
  });
});

for (const variant of storeDatabases<ImageTables>()) {
  describe(`compareAndSwap (${variant.name})`, () => {
    it('changes a row in a listed state, leaving unnamed columns, with the fields set alongside', async () => {
      const { db, close } = await variant.open();
      try {
        await row(db, 'i1', { status: 'a', disk_format: null });
        const opts = { set: { checksum: 'k', updated_at: 2 }, refuse };
        assert.equal(await compareAndSwap(db, 'images', 'id', 'i1', fromUnset, opts), true);
        const r = await read(db, 'i1');
        assert.deepEqual(
          [r.status, r.disk_format, r.checksum, r.updated_at],
          ['c', null, 'k', 2],
          'status set, disk_format left unset, fields written',
        );
        await assert.rejects(
          compareAndSwap(db, 'images', 'id', 'i1', fromUnset, opts),
          (e: any) =>
            e instanceof InvalidState &&
            e.status === 409 &&
            e.message === 'in c/null' &&
            e.fields.status === 'c',
          'the refusal is built from the state the row is in',
        );
        await row(db, 'i2', { status: 'b', disk_format: 'qcow2' });
        await assert.rejects(compareAndSwap(db, 'images', 'id', 'i2', fromUnset, opts), /b\/qcow2/);
        await assert.rejects(compareAndSwap(db, 'images', 'id', 'i2', never, opts), /b\/qcow2/);
        assert.deepEqual(
          [(await read(db, 'i2')).status, (await read(db, 'i2')).checksum],
          ['b', null],
          'a refused row is left as it was',
        );
        assert.equal(await compareAndSwap(db, 'images', 'id', 'gone', fromUnset, opts), false);
      } finally {
        await close();
      }
    });

    it('treats a row outside the scope as not there', async () => {
      const { db, close } = await variant.open();
      try {
        await row(db, 'i1', { status: 'a', disk_format: 'raw' });
        const scoped = { scope: { owner: 'someone else' }, refuse };
        assert.equal(await compareAndSwap(db, 'images', 'id', 'i1', fromUnset, scoped), false);
        assert.equal((await read(db, 'i1')).status, 'a');
        const nullScope = { scope: { location: null }, refuse };
        assert.equal(await compareAndSwap(db, 'images', 'id', 'i1', fromUnset, nullScope), true);
        assert.equal((await read(db, 'i1')).status, 'c');
      } finally {
        await close();
      }
    });
  });
}
