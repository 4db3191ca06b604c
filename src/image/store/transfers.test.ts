// The SQL of image transfers on SQLite and on PostgreSQL when NUBES_TEST_DATABASE_URL is set: a
// project's import slots, the owner's beat, and the sweep's choice of stalled transfers, which
// only one of several replicas recovers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storeDatabases } from '../../../test/support/store-databases.ts';
import type { ImageExecutor, ImageTables } from './tables.ts';
import { getImage, insertImage } from './images.ts';
import { beat, listStalled, recoverStalled, startImportInSlot } from './transfers.ts';

async function make(db: ImageExecutor, status: string, owner = 'p'): Promise<string> {
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
    owner,
    properties: {},
    tags: [],
    now: 1,
  });
  await db.updateTable('images').set({ status, stage_key: 'k' }).where('id', '=', id).execute();
  return id;
}

for (const variant of storeDatabases<ImageTables>()) {
  describe(`image transfers (${variant.name})`, () => {
    it('a project holds at most its slots of imports, whatever the race', async () => {
      const { db, close } = await variant.open();
      try {
        const ids = await Promise.all([1, 2, 3, 4].map(() => make(db, 'uploading')));
        const other = await make(db, 'uploading', 'q');
        const started = await Promise.all(
          ids.map((id) => startImportInSlot(db, id, 2, { transfer_owner: `t-${id}` }, 5)),
        );
        assert.equal(started.filter((s) => s === 'full').length, 2);
        assert.equal(started.filter((s) => typeof s === 'object').length, 2);
        assert.notEqual(await startImportInSlot(db, other, 2, {}, 5), 'full', 'per project');
      } finally {
        await close();
      }
    });

    it('a live owner keeps its transfer; a silent one is recovered by exactly one sweeper', async () => {
      const { db, close } = await variant.open();
      try {
        const [alive, dead] = [await make(db, 'saving'), await make(db, 'saving')];
        for (const [id, owner] of [
          [alive, 'a'],
          [dead, 'd'],
        ] as const)
          await db
            .updateTable('images')
            .set({ transfer_owner: owner, transfer_heartbeat: 10, pending_bytes: 99 })
            .where('id', '=', id)
            .execute();
        assert.deepEqual(await beat(db, ['a', 'gone'], 1000), ['gone'], 'a lost transfer is told');
        const stalled = await listStalled(db, 500);
        assert.deepEqual(
          stalled.map((s) => s.id),
          [dead],
        );
        const tries = await Promise.all(
          [1, 2, 3].map(() => recoverStalled(db, stalled[0]!, 'failUpload', 2000)),
        );
        assert.equal(tries.filter((t) => t !== undefined).length, 1, 'one replica recovers it');
        const back = (await getImage(db, dead))!;
        assert.equal(back.status, 'queued');
        const row = await db
          .selectFrom('images')
          .selectAll()
          .where('id', '=', dead)
          .executeTakeFirstOrThrow();
        assert.equal(Number(row.pending_bytes), 0, 'its quota is given back');
        assert.equal(row.transfer_owner, null);
        assert.equal((await getImage(db, alive))!.status, 'saving');
      } finally {
        await close();
      }
    });
  });
}
