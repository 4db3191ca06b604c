// Issue 15, item 7 (compute's part): what a host said about a failed build (qemu-img's or the file
// system's words) became the instance fault's message, host paths included, shown to the tenant.
// Now the tenant reads the message with paths hidden; an admin finds the whole words in details.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';

const SAID =
  "qemu-img: Could not open '/var/lib/nubes/compute/instances/0b5e/disk': Permission denied";

describe('instance faults name no host path', () => {
  let c: ComputeCloud;
  before(async () => {
    c = await startComputeCloud({
      'node-a': { vcpus: 8, memoryMb: 16384, diskGb: 100, failSpawn: () => SAID },
    });
  });
  after(() => c.close());

  it("a failed build's fault: the tenant's message hides the path, the admin's details keep it", async () => {
    const id = (await c.boot(c.alice, { name: 'doomed' })).body.server.id;
    const seen = await waitFor(c.alice, id, ['ERROR']);
    assert.match(seen.fault.message, /Could not open 'a file': Permission denied/);
    assert.doesNotMatch(JSON.stringify(seen.fault), /\/var\/lib/);
    const admin = (await c.admin.req('GET', `/servers/${id}`, undefined, mv('2.1'))).body.server;
    assert.match(admin.fault.details, /\/var\/lib\/nubes\/compute\/instances\/0b5e\/disk/);
  });
});
