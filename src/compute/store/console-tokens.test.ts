// Console tokens on SQLite always and PostgreSQL when NUBES_TEST_DATABASE_URL is set: only the hash
// is stored, a token is accepted until it expires, an expired or other host's token is refused and
// gone, so is one whose instance is deleted, and the sweep removes expired ones only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Database } from '../../platform/db/database.ts';
import type { ComputeTables } from './tables.ts';
import { addToken, checkToken, hashToken, sweepTokens } from './console-tokens.ts';
import { insertInstances } from './instances.ts';
import { testInstance } from '../../../test/support/test-instance.ts';

async function databases(): Promise<
  { name: string; open: () => Promise<Database<ComputeTables>> }[]
> {
  const list: { name: string; open: () => Promise<Database<ComputeTables>> }[] = [
    { name: 'SQLite', open: () => openDatabase<ComputeTables>('sqlite::memory:') },
  ];
  const pg = process.env['NUBES_TEST_DATABASE_URL'];
  if (pg) {
    const { freshPostgres } = await import('../../../test/support/databases.ts');
    list.push({
      name: 'PostgreSQL',
      open: async () => {
        const f = await freshPostgres(pg);
        const d = await openDatabase<ComputeTables>(f.url);
        return {
          ...d,
          close: async () => {
            await d.close();
            await f.drop();
          },
        };
      },
    });
  }
  return list;
}

const I = '0b9c6a34-3c1e-4d5f-9a2b-7c8d9e0f1a2b';

for (const { name, open: openEmpty } of await databases()) {
  /** A database holding the instance I, whose tokens the tests make. */
  const open = async () => {
    const d = await openEmpty();
    await insertInstances(d.db, [testInstance(I)]);
    return d;
  };
  describe(`console tokens (${name})`, () => {
    it('stores only the SHA-256 of the token', async () => {
      const d = await open();
      try {
        await addToken(
          d.db,
          { token: 'secret-token', instanceId: I, host: 'h1', expiresAt: 2000 },
          1000,
        );
        const rows = await d.db.selectFrom('console_tokens').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.token_hash, hashToken('secret-token'));
        assert.match(rows[0]!.token_hash, /^[0-9a-f]{64}$/);
        assert.ok(!JSON.stringify(rows).includes('secret-token'));
      } finally {
        await d.close();
      }
    });

    it('is accepted at every connection until it expires (a page reload reconnects)', async () => {
      const d = await open();
      try {
        await addToken(d.db, { token: 't1', instanceId: I, host: 'h1', expiresAt: 2000 }, 1000);
        assert.deepEqual(await checkToken(d.db, 't1', 'h1', 1500), { ok: true, instanceId: I });
        assert.deepEqual(await checkToken(d.db, 't1', 'h1', 1999), { ok: true, instanceId: I });
        assert.deepEqual(await checkToken(d.db, 't1', 'h1', 2000), { ok: false, why: 'expired' });
        assert.deepEqual(await checkToken(d.db, 't1', 'h1', 1500), { ok: false, why: 'unknown' });
        assert.deepEqual(await checkToken(d.db, 'never-made', 'h1', 1500), {
          ok: false,
          why: 'unknown',
        });
      } finally {
        await d.close();
      }
    });

    it('refuses an expired token or one for another host, and forgets it', async () => {
      const d = await open();
      try {
        await addToken(d.db, { token: 'old', instanceId: I, host: 'h1', expiresAt: 2000 }, 1000);
        await addToken(
          d.db,
          { token: 'elsewhere', instanceId: I, host: 'h2', expiresAt: 2000 },
          1000,
        );
        assert.deepEqual(await checkToken(d.db, 'old', 'h1', 2000), {
          ok: false,
          why: 'expired',
        });
        assert.deepEqual(await checkToken(d.db, 'elsewhere', 'h1', 1500), {
          ok: false,
          why: 'other-host',
        });
        assert.equal((await d.db.selectFrom('console_tokens').selectAll().execute()).length, 0);
      } finally {
        await d.close();
      }
    });

    it('sweeps expired tokens only', async () => {
      const d = await open();
      try {
        await addToken(d.db, { token: 'a', instanceId: I, host: 'h1', expiresAt: 2000 }, 1000);
        await addToken(d.db, { token: 'b', instanceId: I, host: 'h1', expiresAt: 5000 }, 1000);
        assert.equal(await sweepTokens(d.db, 3000), 1);
        assert.deepEqual(await checkToken(d.db, 'b', 'h1', 3000), { ok: true, instanceId: I });
      } finally {
        await d.close();
      }
    });

    it('refuses a token from the moment its instance is deleted, and forgets it', async () => {
      const d = await open();
      try {
        await addToken(d.db, { token: 'mine', instanceId: I, host: 'h1', expiresAt: 5000 }, 1000);
        assert.deepEqual(await checkToken(d.db, 'mine', 'h1', 1500), { ok: true, instanceId: I });
        await d.db.updateTable('instances').set({ deleted_at: 1600 }).where('id', '=', I).execute();
        assert.deepEqual(await checkToken(d.db, 'mine', 'h1', 1700), {
          ok: false,
          why: 'instance-deleted',
        });
        assert.equal((await d.db.selectFrom('console_tokens').selectAll().execute()).length, 0);
      } finally {
        await d.close();
      }
    });
  });
}
