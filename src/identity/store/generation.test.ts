// identity_generation on SQLite always and PostgreSQL when NUBES_TEST_DATABASE_URL is set: every
// insert, update and delete on a table a token validation reads moves it, in the writer's
// transaction (a rollback leaves it where it was); the catalog's tables do not move it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { storeDatabases } from '../../../test/support/store-databases.ts';
import type { IdentityTables } from './tables.ts';
import { identityGeneration } from './generation.ts';

/** One row per table read by validation, in an order the foreign keys accept, and a change to it. */
const ROWS: readonly {
  table: keyof IdentityTables & string;
  row: Record<string, unknown>;
  key: Record<string, unknown>;
  set: Record<string, unknown>;
}[] = [
  { table: 'meta', row: { key: 'k', value: '1' }, key: { key: 'k' }, set: { value: '2' } },
  {
    table: 'domains',
    row: { id: 'd1', name: 'd1', created_at: 1 },
    key: { id: 'd1' },
    set: { enabled: 0 },
  },
  {
    table: 'projects',
    row: { id: 'p1', name: 'p1', domain_id: 'd1', created_at: 1 },
    key: { id: 'p1' },
    set: { enabled: 0 },
  },
  {
    table: 'users',
    row: { id: 'u1', name: 'u1', domain_id: 'd1', created_at: 1 },
    key: { id: 'u1' },
    set: { password_hash: 'x' },
  },
  {
    table: 'groups',
    row: { id: 'g1', name: 'g1', domain_id: 'd1', created_at: 1 },
    key: { id: 'g1' },
    set: { name: 'g2' },
  },
  {
    table: 'user_groups',
    row: { user_id: 'u1', group_id: 'g1' },
    key: { user_id: 'u1' },
    set: { group_id: 'g1' },
  },
  { table: 'roles', row: { id: 'r1', name: 'r1' }, key: { id: 'r1' }, set: { name: 'r9' } },
  {
    table: 'implied_roles',
    row: { prior_role_id: 'r1', implied_role_id: 'r1' },
    key: { prior_role_id: 'r1' },
    set: { implied_role_id: 'r1' },
  },
  {
    table: 'assignments',
    row: { type: 'UserProject', actor_id: 'u1', target_id: 'p1', role_id: 'r1', inherited: 0 },
    key: { actor_id: 'u1' },
    set: { inherited: 1 },
  },
  {
    table: 'app_credentials',
    row: {
      id: 'a1',
      name: 'a1',
      user_id: 'u1',
      project_id: 'p1',
      secret_hash: 'h',
      description: '',
      expires_at: null,
      unrestricted: 0,
      roles: '[]',
      access_rules: '[]',
      created_at: 1,
    },
    key: { id: 'a1' },
    set: { roles: '[{}]' },
  },
  {
    table: 'revocation_events',
    row: { id: 'e1', audit_id: 'x', issued_before: 1, revoked_at: 1 },
    key: { id: 'e1' },
    set: { issued_before: 2 },
  },
];

// The rows' shapes are checked by the database, not by the type (one test walks every table).
type AnyDb = Kysely<any>;
const where = (q: any, key: Record<string, unknown>) =>
  Object.entries(key).reduce((acc, [k, v]) => acc.where(k, '=', v), q);

for (const { name, open } of storeDatabases<IdentityTables>()) {
  describe(`identity generation (${name})`, () => {
    it('moves with every insert, update and delete on what a validation reads', async () => {
      const d = await open();
      try {
        const db = d.db as AnyDb;
        let last = await identityGeneration(d.db);
        const moved = async (what: string) => {
          const now = await identityGeneration(d.db);
          assert.ok(now > last, `${what} did not move the generation (${last} → ${now})`);
          last = now;
        };
        for (const r of ROWS) {
          await db.insertInto(r.table).values(r.row).execute();
          await moved(`insert into ${r.table}`);
          await where(db.updateTable(r.table).set(r.set), r.key).execute();
          await moved(`update of ${r.table}`);
        }
        for (const r of [...ROWS].reverse()) {
          await where(db.deleteFrom(r.table), r.key).execute();
          await moved(`delete from ${r.table}`);
        }
      } finally {
        await d.close();
      }
    });

    it('commits with the change: a rolled back write leaves it where it was', async () => {
      const d = await open();
      try {
        const db = d.db as AnyDb;
        const before = await identityGeneration(d.db);
        await assert.rejects(
          db.transaction().execute(async (tx) => {
            await tx
              .insertInto('domains')
              .values({ id: 'd2', name: 'd2', created_at: 1 })
              .execute();
            throw new Error('abandon');
          }),
          /abandon/,
        );
        assert.equal(await identityGeneration(d.db), before);
        await db.transaction().execute(async (tx) => {
          await tx.insertInto('domains').values({ id: 'd2', name: 'd2', created_at: 1 }).execute();
          await tx.updateTable('domains').set({ enabled: 0 }).where('id', '=', 'd2').execute();
        });
        assert.ok((await identityGeneration(d.db)) > before);
      } finally {
        await d.close();
      }
    });

    it('does not move with the catalog, which no token context holds', async () => {
      const d = await open();
      try {
        const db = d.db as AnyDb;
        const before = await identityGeneration(d.db);
        await db.insertInto('regions').values({ id: 'r', description: '', extra: '{}' }).execute();
        await db.updateTable('regions').set({ description: 'x' }).where('id', '=', 'r').execute();
        await db.deleteFrom('regions').where('id', '=', 'r').execute();
        assert.equal(await identityGeneration(d.db), before);
      } finally {
        await d.close();
      }
    });
  });
}
