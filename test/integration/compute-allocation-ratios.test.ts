// A host's agent sets how much of its inventory it offers (Nova's cpu/ram/disk_allocation_ratio in
// its own configuration): the scheduler fills the host up to vCPUs × ratio and no further, a host
// without the setting gets the cloud's default (4 vCPUs per CPU), and a restarted agent with a new
// ratio changes what the host takes from then on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';

describe("allocation ratios from the host's configuration", () => {
  let c: ComputeCloud;
  before(async () => {
    c = await startComputeCloud({});
  });
  after(async () => {
    await c.close();
  });

  /** Boots m1.nano (1 vCPU) servers forced onto `host` until one fails; answers how many went ACTIVE. */
  async function fill(host: string, max: number): Promise<number> {
    for (let n = 0; n < max; n++) {
      const r = await c.boot(c.admin, {
        name: `${host}-${n}`,
        flavorRef: '42',
        availability_zone: `nova:${host}`,
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const s = await waitFor(c.admin, r.body.server.id, ['ACTIVE', 'ERROR']);
      if (s.status === 'ERROR') {
        assert.match(s.fault.message, /No valid host/);
        // Out of the project's instance quota again before the next fill.
        assert.equal((await c.admin.req('DELETE', `/servers/${s.id}`)).status, 204);
        for (let k = 0; k < 200 && (await c.admin.get(`/servers/${s.id}`)).status !== 404; k++)
          await new Promise((r) => setTimeout(r, 25));
        return n;
      }
    }
    return max;
  }

  let low: Awaited<ReturnType<ComputeCloud['addHost']>>;
  it('fills a host to its CPUs × its ratio: 2 CPUs at 1.5 take 3 guests, 1 CPU at the default 4', async () => {
    low = await c.addHost('ratio-low', { vcpus: 2, memoryMb: 65536, cpuRatio: 16 }, undefined, {
      ratios: { cpu: 1.5, ram: null, disk: null },
    });
    await c.addHost('ratio-default', { vcpus: 1, memoryMb: 65536, cpuRatio: 16 });
    assert.equal(await fill('ratio-low', 6), 3);
    assert.equal(await fill('ratio-default', 6), 4);
  });

  it('a restarted agent with a higher ratio lets the host take more', async () => {
    await low.stop();
    await c.addHost('ratio-low', { vcpus: 2, memoryMb: 65536, cpuRatio: 16 }, undefined, {
      ratios: { cpu: 2.5, ram: null, disk: null },
    });
    assert.equal(await fill('ratio-low', 6), 2, '5 in all now: 2 more');
  });
});
