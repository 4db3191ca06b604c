// Issue 15, item 6: the caller's X-OpenStack-Request-ID was used verbatim (12 KB accepted, markup
// echoed in the response header and the log, another request's id reused in instance actions).
// Now, as oslo's RequestId middleware, every request has its own req-<uuid>; a caller's req-<uuid>
// is only logged beside it as global_request_id, and anything else is ignored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import { createLogger, type Logger } from '../../src/platform/log.ts';

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('issue 15: X-OpenStack-Request-ID', () => {
  let c: ComputeCloud;
  let dir: string;
  let log: Logger;
  const logFile = () => join(dir, 'nubes.log');
  /** The log's lines so far, as JSON. */
  const lines = async (): Promise<Record<string, unknown>[]> => {
    await new Promise<void>((ok) => log.flush(() => ok()));
    return readFileSync(logFile(), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  };
  /** The access line of a request (written once the response is sent, so waited for). */
  const accessLine = async (id: string): Promise<Record<string, unknown> | undefined> => {
    for (let n = 0; n < 100; n++) {
      const found = (await lines()).find((l) => l['msg'] === 'request' && l['request_id'] === id);
      if (found) return found;
      await new Promise((ok) => setTimeout(ok, 20));
    }
    return undefined;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubes-reqid-'));
    log = createLogger({ destination: logFile() });
    c = await startComputeCloud({ node1: {} }, { log });
  });
  after(async () => {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a 12 KB or markup request id is replaced by a fresh req-<uuid>, in the header and the log', async () => {
    for (const given of [
      `req-${'a'.repeat(12 * 1024)}`,
      '<script>alert(1)</script>',
      'req-"><img src=x onerror=alert(1)>',
      'req-12345678-1234-1234-1234-1234567890ab-and-more',
    ]) {
      const r = await c.alice.req('GET', '/servers', undefined, {
        'x-openstack-request-id': given,
      });
      assert.equal(r.status, 200);
      const id = r.headers['x-openstack-request-id'] as string;
      assert.match(id, REQUEST_ID);
      assert.notEqual(id, given);
      assert.equal(r.headers['x-compute-request-id'], id);
      const mine = await accessLine(id);
      assert.ok(mine, `the access line of ${id} is logged under it`);
      assert.equal(mine['global_request_id'], undefined, 'an invalid id is not kept at all');
    }
    const text = readFileSync(logFile(), 'utf8');
    assert.ok(!text.includes('a'.repeat(64)), 'the 12 KB id is nowhere in the log');
    assert.ok(!text.includes('<script>') && !text.includes('<img'), 'no markup in the log');
  });

  it("a caller's req-<uuid> is the global request id, logged beside the request's own", async () => {
    const given = `req-${crypto.randomUUID()}`;
    const r = await c.alice.req('GET', '/servers', undefined, { 'x-openstack-request-id': given });
    const id = r.headers['x-openstack-request-id'] as string;
    assert.match(id, REQUEST_ID);
    assert.notEqual(id, given, 'each request has its own id, as oslo.middleware answers');
    const mine = await accessLine(id);
    assert.equal(mine?.['global_request_id'], given);
  });

  it("reusing another request's id cannot confuse instance actions", async () => {
    const shared = `req-${crypto.randomUUID()}`;
    const h = { 'x-openstack-request-id': shared };
    const made = await c.alice.req(
      'POST',
      '/servers',
      { server: { name: 'a', imageRef: c.imageId, flavorRef: '1' } },
      h,
    );
    assert.equal(made.status, 202, JSON.stringify(made.body));
    const a = made.body.server.id as string;
    const b = (await c.boot(c.alice, { name: 'b' })).body.server.id as string;
    await waitFor(c.alice, a, ['ACTIVE']);
    await waitFor(c.alice, b, ['ACTIVE']);
    const stop = await c.alice.req('POST', `/servers/${a}/action`, { 'os-stop': null }, h);
    assert.equal(stop.status, 202);
    await waitFor(c.alice, a, ['SHUTOFF']);

    const list = (await c.alice.get(`/servers/${a}/os-instance-actions`)).body.instanceActions;
    const ids = list.map((x: { request_id: string }) => x.request_id);
    assert.equal(ids.length, 2);
    assert.equal(new Set(ids).size, 2, 'two actions, two request ids');
    assert.ok(!ids.includes(shared), "the caller's id is not an action's id");
    assert.deepEqual(
      ids.sort(),
      [made.headers['x-openstack-request-id'], stop.headers['x-openstack-request-id']].sort(),
    );
    assert.equal((await c.alice.get(`/servers/${a}/os-instance-actions/${shared}`)).status, 404);
    // An action is found on its own server only.
    const createId = made.headers['x-openstack-request-id'];
    assert.equal((await c.alice.get(`/servers/${a}/os-instance-actions/${createId}`)).status, 200);
    assert.equal((await c.alice.get(`/servers/${b}/os-instance-actions/${createId}`)).status, 404);
  });
});
