// Walks every (status, action) pair of the image status table through the real compare-and-swap
// UPDATE on SQLite: allowed pairs move to the table's target, all others are refused with 409.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../platform/db/database.ts';
import { IMAGE_STATUSES, imageTransitions, type ImageAction } from '../states.ts';
import { insertImage, transition } from './images.ts';

describe('image status transitions', () => {
  it('every action succeeds exactly from its listed statuses', async () => {
    const { db, close } = await openDatabase('sqlite::memory:');
    try {
      for (const status of IMAGE_STATUSES) {
        for (const action of Object.keys(imageTransitions) as ImageAction[]) {
          const t = imageTransitions[action];
          const id = crypto.randomUUID();
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
          await db.updateTable('images').set({ status }).where('id', '=', id).execute();
          if ((t.from as readonly string[]).includes(status)) {
            const img = await transition(db, id, action, {}, 2);
            assert.equal(img?.status, t.to, `${action} from ${status}`);
          } else {
            await assert.rejects(
              transition(db, id, action, {}, 2),
              (e: any) => e.status === 409 && e.fields.status === status,
              `${action} from ${status} must be refused`,
            );
          }
        }
      }
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
