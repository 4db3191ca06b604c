// Walks every (status, action) pair of the image status table through the real compare-and-swap
// UPDATE, on SQLite and on PostgreSQL when NUBES_TEST_DATABASE_URL is set: allowed pairs move to
// the table's target, all others are refused with a 409 and leave the row as it was.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storeDatabases } from '../../../test/support/store-databases.ts';
import { walkTransitions } from '../../../test/support/transition-walk.ts';
import type { ImageExecutor, ImageTables } from './tables.ts';
import { IMAGE_STATUSES, imageTransitions, type ImageAction, type ImageState } from '../states.ts';
import { insertImage, transition } from './images.ts';

async function make(db: ImageExecutor, state: ImageState, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  for (const id of ids)
    await insertImage(db, {
      id,
      name: null,
      visibility: 'private',
      protected: false,
      osHidden: false,
      diskFormat: 'raw',
      containerFormat: 'bare',
      minDisk: 0,
      minRam: 0,
      owner: 'p',
      properties: {},
      tags: [],
      now: 1,
    });
  await db.updateTable('images').set(state).where('id', 'in', ids).execute();
  return ids;
}

for (const variant of storeDatabases<ImageTables>()) {
  describe(`image status transitions (${variant.name})`, () => {
    it('every action succeeds exactly from its listed statuses', async () => {
      const { db, dialect, close } = await variant.open();
      try {
        const { allowed, refused } = await walkTransitions<ImageState, ImageAction>({
          states: IMAGE_STATUSES.map((status) => ({ status })),
          table: imageTransitions,
          make: (state, count) => make(db, state, count),
          apply: (id, action) => transition(db, id, action, { checksum: 'walked' }, 2),
          rows: async (ids) =>
            new Map(
              (await db.selectFrom('images').selectAll().where('id', 'in', ids).execute()).map(
                (r) => [r.id, r],
              ),
            ),
          fields: { checksum: 'walked' },
          now: 2,
          concurrency: dialect === 'postgres' ? 8 : 1,
          refused: (e: any, state, action) =>
            e.status === 409 &&
            e.code === 'image_invalid_state' &&
            e.fields.status === state.status &&
            e.fields.action === action &&
            e.message.includes(`'${state.status}'`),
        });
        assert.equal(
          allowed + refused,
          IMAGE_STATUSES.length * Object.keys(imageTransitions).length,
        );
        assert.ok(allowed > 0 && refused > 0);
        assert.equal(
          await transition(db, 'missing', 'startUpload', {}, 1),
          undefined,
          'a missing image is undefined, not an error',
        );
      } finally {
        await close();
      }
    });
  });
}
