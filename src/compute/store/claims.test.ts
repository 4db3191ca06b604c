// Claims against a host's generation, on SQLite always and PostgreSQL when NUBES_TEST_DATABASE_URL
// is set: capacity with allocation ratios, a full host refusing, and racing claims for the last
// room where exactly one wins and no host is ever over-committed. Also the instance CAS transition.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../platform/db/database.ts';
import { storeDatabases } from '../../../test/support/store-databases.ts';
import { testInstance } from '../../../test/support/test-instance.ts';
import type { ComputeTables } from './tables.ts';
import { upsertReport } from './hosts.ts';
import { claim, hostUsage, releaseAllocations } from './claims.ts';
import { insertInstances, transition } from './instances.ts';

const report = (host: string, vcpus: number) => ({
  host,
  hypervisorType: 'fake',
  hypervisorVersion: 1,
  cpuInfo: '{}',
  hostIp: null,
  vcpus,
  memoryMb: 4096,
  diskGb: 100,
  agentVersion: 't',
});

async function newInstance(
  db: Database<ComputeTables>['db'],
  id = crypto.randomUUID(),
): Promise<string> {
  await insertInstances(db, [testInstance(id)]);
  return id;
}

for (const variant of storeDatabases<ComputeTables>()) {
  describe(`claims and instance transitions (${variant.name})`, () => {
    it('counts capacity with the allocation ratios and refuses a claim that does not fit', async () => {
      const { db, close } = await variant.open();
      try {
        await upsertReport(
          db,
          report('h1', 2),
          { availabilityZone: 'nova', ratios: { cpu: 4, ram: 1, disk: 1 } },
          1,
        );
        let [u] = await hostUsage(db);
        assert.deepEqual(u!.capacity, { vcpus: 8, memoryMb: 4096, diskGb: 100 });
        const a = await newInstance(db);
        assert.equal(
          await claim(
            db,
            { instanceId: a, host: 'h1', vcpus: 6, memoryMb: 1024, diskGb: 10 },
            u!.generation,
          ),
          true,
        );
        [u] = await hostUsage(db);
        assert.deepEqual(u!.used, { vcpus: 6, memoryMb: 1024, diskGb: 10 });
        const b = await newInstance(db);
        assert.equal(
          await claim(
            db,
            { instanceId: b, host: 'h1', vcpus: 1, memoryMb: 1024, diskGb: 10 },
            u!.generation - 1,
          ),
          false,
          'a stale generation loses',
        );
        assert.equal(
          await claim(
            db,
            { instanceId: b, host: 'h1', vcpus: 3, memoryMb: 1024, diskGb: 10 },
            u!.generation,
          ),
          false,
          'no room for 3 more vCPUs',
        );
        assert.deepEqual(
          (await hostUsage(db))[0]!.used,
          { vcpus: 6, memoryMb: 1024, diskGb: 10 },
          'a refused claim leaves nothing',
        );
        await releaseAllocations(db, a);
        assert.deepEqual((await hostUsage(db))[0]!.used, { vcpus: 0, memoryMb: 0, diskGb: 0 });
      } finally {
        await close();
      }
    });

    it('racing claims for the same host never over-commit it', async () => {
      const { db, close } = await variant.open();
      try {
        await upsertReport(
          db,
          report('h1', 1),
          { availabilityZone: 'nova', ratios: { cpu: 4, ram: 1, disk: 1 } },
          1,
        );
        const ids = await Promise.all(Array.from({ length: 12 }, () => newInstance(db)));
        // Each racer retries on a moved generation, as the scheduler does, until it wins or the host is full.
        const results = await Promise.all(
          ids.map(async (id) => {
            for (let attempt = 0; attempt < 50; attempt++) {
              const [u] = await hostUsage(db);
              if (u!.used.vcpus + 1 > u!.capacity.vcpus) return false;
              if (
                await claim(
                  db,
                  { instanceId: id, host: 'h1', vcpus: 1, memoryMb: 64, diskGb: 1 },
                  u!.generation,
                )
              )
                return true;
            }
            return false;
          }),
        );
        assert.equal(
          results.filter(Boolean).length,
          4,
          'exactly the 4 vCPUs (1 × ratio 4) were handed out',
        );
        assert.equal((await hostUsage(db))[0]!.used.vcpus, 4);
      } finally {
        await close();
      }
    });

    it('moves an instance only along the state table, as one compare-and-swap', async () => {
      const { db, close } = await variant.open();
      try {
        const id = await newInstance(db);
        assert.equal(
          (await transition(db, id, 'schedule', { host: 'h1' }, 2))!.taskState,
          'networking',
        );
        await assert.rejects(
          transition(db, id, 'stop', {}, 3),
          (e: any) =>
            e.status === 409 && /vm_state building and task_state networking/.test(e.message),
        );
        await transition(db, id, 'spawn', {}, 3);
        const active = await transition(db, id, 'spawned', { power_state: 1, launched_at: 4 }, 4);
        assert.deepEqual(
          [active!.vmState, active!.taskState, active!.powerState, active!.host],
          ['active', null, 1, 'h1'],
        );
        await transition(db, id, 'stop', {}, 5);
        await assert.rejects(
          transition(db, id, 'stop', {}, 6),
          /powering-off/,
          'a second stop while one runs is refused',
        );
        assert.equal(await transition(db, 'missing', 'stop', {}, 6), undefined);
      } finally {
        await close();
      }
    });
  });
}
