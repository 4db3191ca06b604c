// API replicas started at the same moment on one empty PostgreSQL database, as a service manager
// starts them: all must come up, bootstrap exactly once, and share token keys.
import { after, it, describe } from 'node:test';
import assert from 'node:assert/strict';
import { freshPostgres, type ScratchDatabase } from '../support/databases.ts';
import { buildCloud, type Cloud } from '../../src/cli/cloud.ts';
import { silentLogger } from '../../src/platform/log.ts';
import { Api } from '../support/client.ts';
import { testConfig } from '../support/cloud.ts';

const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];

describe(
  'replicas starting together on PostgreSQL',
  { skip: pgUrl ? false : 'NUBES_TEST_DATABASE_URL is not set (a SQLite cloud is one process)' },
  () => {
    let db: ScratchDatabase;
    const clouds: Cloud[] = [];
    after(async () => {
      for (const c of clouds) await c.close();
      await db?.drop();
    });

    it('four replicas start at once; one bootstraps, all share the users and the token keys', async () => {
      db = await freshPostgres(pgUrl!);
      const config = testConfig(db.url);
      const started = await Promise.allSettled(
        [1, 2, 3, 4].map(() => buildCloud(config, silentLogger(), { adminPassword: 'same-pw' })),
      );
      for (const s of started) if (s.status === 'fulfilled') clouds.push(s.value);
      assert.deepEqual(
        started.map((s) => s.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
        started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok')).join('; '),
      );
      assert.equal(
        clouds.filter((c) => c.bootstrap.firstStart).length,
        1,
        'exactly one replica bootstrapped',
      );

      const scope = { project: { name: 'admin', domain: { id: 'default' } } };
      const tokens = await Promise.all(
        clouds.map((c) => new Api(c.app).login('admin', 'same-pw', scope)),
      );
      for (const t of tokens) {
        for (const c of clouds) {
          const r = await new Api(c.app, t.token).req('GET', '/auth/tokens', undefined, {
            'x-subject-token': t.token!,
          });
          assert.equal(r.status, 200, 'a token of any replica is valid on every replica');
        }
      }
      const users = await tokens[0]!.get('/users?name=admin');
      assert.equal(users.body.users.length, 1);
      const services = await tokens[0]!.get('/services?type=identity');
      assert.equal(services.body.services.length, 1);
      const endpoints = await tokens[0]!.get(
        `/endpoints?service_id=${services.body.services[0].id}`,
      );
      assert.equal(endpoints.body.endpoints.length, 3, 'public, internal and admin, once each');
    });
  },
);
