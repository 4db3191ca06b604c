// os-migrateLive between two fake hosts, as an admin drives it over the API: the server goes
// MIGRATING and comes back ACTIVE (or PAUSED) on the other host, its claim moves with it, the
// action's events name each step; a failed step leaves it where it was; and the refusals a caller
// can act on are 4xx at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';

describe('live migration (os-migrateLive)', () => {
  let c: ComputeCloud;
  const failing = new Set<string>();

  before(async () => {
    c = await startComputeCloud({});
    for (const host of ['lm-a', 'lm-b']) {
      await c.addHost(host, { vcpus: 8, failMigration: (step, uuid) => failing.has(`${host}:${step}:${uuid}`) });
    }
  });
  after(async () => { await c.close(); });

  const hostOf = async (id: string) => (await c.admin.get(`/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'] as string;
  const other = (h: string) => (h === 'lm-a' ? 'lm-b' : 'lm-a');
  const migrate = (id: string, body: Record<string, unknown>, version = '2.30', api = c.admin) =>
    api.req('POST', `/servers/${id}/action`, { 'os-migrateLive': body }, mv(version));
  const usedVcpus = async (host: string) => {
    const list = (await c.admin.req('GET', '/os-hypervisors/detail', undefined, mv('2.53'))).body.hypervisors;
    return list.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === host).vcpus_used as number;
  };
  const boot = async (name: string) => {
    const r = await c.boot(c.alice, { name });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await waitFor(c.alice, r.body.server.id, ['ACTIVE']);
    return r.body.server.id as string;
  };

  it('moves an active server to the host the scheduler picks; its claim moves and the action names every step', async () => {
    const id = await boot('lm-1');
    const from = await hostOf(id);
    const [srcBefore, dstBefore] = [await usedVcpus(from), await usedVcpus(other(from))];
    const r = await migrate(id, { host: null, block_migration: 'auto' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const s = await waitFor(c.admin, id, ['ACTIVE']);
    assert.equal(s['OS-EXT-SRV-ATTR:host'], other(from));
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.equal(s['OS-EXT-STS:task_state'], null);
    assert.ok(!(await c.drivers.get(from)!.listInstances()).some((i) => i.uuid === id), 'gone from the source');
    assert.equal(await c.drivers.get(other(from))!.powerState(id), 'running');
    assert.deepEqual([await usedVcpus(from), await usedVcpus(other(from))], [srcBefore - 1, dstBefore + 1], 'the claim moved');

    const actions = (await c.admin.req('GET', `/servers/${id}/os-instance-actions`, undefined, mv('2.84'))).body.instanceActions;
    const lm = actions.find((a: { action: string }) => a.action === 'live-migration');
    assert.ok(lm, JSON.stringify(actions));
    const shown = (await c.admin.req('GET', `/servers/${id}/os-instance-actions/${lm.request_id}`, undefined, mv('2.84'))).body.instanceAction;
    const events = new Map(shown.events.map((e: { event: string; result: string; host: string }) => [e.event, `${e.result}@${e.host}`]));
    assert.deepEqual(Object.fromEntries(events), {
      compute_pre_live_migration: `Success@${other(from)}`, compute_live_migration: `Success@${from}`,
      compute_post_live_migration_at_destination: `Success@${other(from)}`,
    });
    assert.equal(shown.message, null);
  });

  it('moves a paused server to the host named, where it stays paused', async () => {
    const id = await boot('lm-paused');
    assert.equal((await c.alice.post(`/servers/${id}/action`, { pause: null })).status, 202);
    await waitFor(c.alice, id, ['PAUSED']);
    const to = other(await hostOf(id));
    assert.equal((await migrate(id, { host: to, block_migration: true })).status, 202);
    const s = await waitFor(c.admin, id, ['PAUSED'], 10_000);
    // PAUSED is also the status before the migration ended: wait for the host to change.
    for (let n = 0; n < 100 && (await hostOf(id)) !== to; n++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await hostOf(id), to);
    assert.equal(s['OS-EXT-STS:vm_state'], 'paused');
    assert.equal(await c.drivers.get(to)!.powerState(id), 'paused');
  });

  for (const step of ['prepare', 'migrate'] as const) {
    it(`a ${step} that fails leaves the server ACTIVE on its host with the claim it had, and nothing at the destination`, async () => {
      const id = await boot(`lm-fail-${step}`);
      const from = await hostOf(id);
      const to = other(from);
      failing.add(step === 'prepare' ? `${to}:prepare:${id}` : `${from}:migrate:${id}`);
      const dstBefore = await usedVcpus(to);
      assert.equal((await migrate(id, { host: to, block_migration: 'auto' })).status, 202);
      let s: any;
      for (let n = 0; n < 200; n++) {
        s = (await c.admin.get(`/servers/${id}`)).body.server;
        if (s['OS-EXT-STS:task_state'] === null) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(s.status, 'ACTIVE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], from);
      assert.equal(await c.drivers.get(from)!.powerState(id), 'running');
      assert.ok(!(await c.drivers.get(to)!.listInstances()).some((i) => i.uuid === id), 'nothing left at the destination');
      assert.equal(await usedVcpus(to), dstBefore, 'the destination\'s claim was given back');
      const actions = (await c.admin.req('GET', `/servers/${id}/os-instance-actions`, undefined, mv('2.84'))).body.instanceActions;
      assert.equal(actions.find((a: { action: string }) => a.action === 'live-migration').message, 'Error');
    });
  }

  it('refuses at once what the caller can correct: bad bodies, its own host, an unknown host, a stopped server, a non-admin', async () => {
    const id = await boot('lm-refused');
    const from = await hostOf(id);
    const cases: [Record<string, unknown>, string, number, RegExp][] = [
      [{ host: from, block_migration: 'auto' }, '2.30', 400, /current host/],
      [{ host: 'no-such-host', block_migration: 'auto' }, '2.30', 400, /could not be found/],
      [{ host: null }, '2.30', 400, /block_migration/],
      [{ block_migration: 'auto' }, '2.30', 400, /'host' is a required property/],
      [{ host: null, block_migration: 'auto', disk_over_commit: false }, '2.30', 400, /disk_over_commit/],
      [{ host: null, block_migration: 'auto', disk_over_commit: false }, '2.24', 400, /boolean/],
      [{ host: null, block_migration: false }, '2.24', 400, /disk_over_commit/],
      [{ host: null, block_migration: 'auto', force: true }, '2.68', 400, /force/],
    ];
    for (const [body, version, status, message] of cases) {
      const r = await migrate(id, body, version);
      assert.equal(r.status, status, `${JSON.stringify(body)} at ${version}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body.badRequest ?? r.body), message);
    }
    assert.equal((await migrate(id, { host: null, block_migration: 'auto' }, '2.30', c.alice)).status, 403);
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-stop': null })).status, 202);
    await waitFor(c.alice, id, ['SHUTOFF']);
    const stopped = await migrate(id, { host: null, block_migration: 'auto' });
    assert.equal(stopped.status, 409, JSON.stringify(stopped.body));
    const s = (await c.admin.get(`/servers/${id}`)).body.server;
    assert.equal(s['OS-EXT-SRV-ATTR:host'], from, 'refusals change nothing');
    assert.equal(s['OS-EXT-STS:task_state'], null);
  });
});
