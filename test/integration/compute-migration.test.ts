// Live (os-migrateLive) and cold (migrate) migration between two fake hosts, as an admin drives
// them over the API: a live one goes MIGRATING and comes back ACTIVE (or PAUSED) on the other
// host; a cold one ends in VERIFY_RESIZE there, and confirm or revert decides which copy stays.
// Claims follow the instance, the action's events name each step, a failed step leaves the server
// where it was, and the refusals a caller can act on are 4xx at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';

describe('live and cold migration', () => {
  let c: ComputeCloud;
  const failing = new Set<string>();

  before(async () => {
    c = await startComputeCloud({});
    for (const host of ['lm-a', 'lm-b']) {
      await c.addHost(host, {
        vcpus: 8,
        failMigration: (step, uuid) => failing.has(`${host}:${step}:${uuid}`),
      });
    }
  });
  after(async () => {
    await c.close();
  });

  const hostOf = async (id: string) =>
    (await c.admin.get(`/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'] as string;
  const other = (h: string) => (h === 'lm-a' ? 'lm-b' : 'lm-a');
  const migrate = (id: string, body: Record<string, unknown>, version = '2.30', api = c.admin) =>
    api.req('POST', `/servers/${id}/action`, { 'os-migrateLive': body }, mv(version));
  const usedVcpus = async (host: string) => {
    const list = (await c.admin.req('GET', '/os-hypervisors/detail', undefined, mv('2.53'))).body
      .hypervisors;
    return list.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === host)
      .vcpus_used as number;
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
    assert.ok(
      !(await c.drivers.get(from)!.listInstances()).some((i) => i.uuid === id),
      'gone from the source',
    );
    assert.equal(await c.drivers.get(other(from))!.powerState(id), 'running');
    assert.deepEqual(
      [await usedVcpus(from), await usedVcpus(other(from))],
      [srcBefore - 1, dstBefore + 1],
      'the claim moved',
    );

    const actions = (
      await c.admin.req('GET', `/servers/${id}/os-instance-actions`, undefined, mv('2.84'))
    ).body.instanceActions;
    const lm = actions.find((a: { action: string }) => a.action === 'live-migration');
    assert.ok(lm, JSON.stringify(actions));
    const shown = (
      await c.admin.req(
        'GET',
        `/servers/${id}/os-instance-actions/${lm.request_id}`,
        undefined,
        mv('2.84'),
      )
    ).body.instanceAction;
    const events = new Map(
      shown.events.map((e: { event: string; result: string; host: string }) => [
        e.event,
        `${e.result}@${e.host}`,
      ]),
    );
    assert.deepEqual(Object.fromEntries(events), {
      compute_pre_live_migration: `Success@${other(from)}`,
      compute_live_migration: `Success@${from}`,
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
    for (let n = 0; n < 100 && (await hostOf(id)) !== to; n++)
      await new Promise((r) => setTimeout(r, 50));
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
      // The abort is cast to the destination as the task ends (as Nova's rollback at the
      // destination): its copy goes soon after, not necessarily before the API shows ACTIVE.
      const atDestination = async () =>
        (await c.drivers.get(to)!.listInstances()).some((i) => i.uuid === id);
      for (let n = 0; n < 200 && (await atDestination()); n++)
        await new Promise((r) => setTimeout(r, 25));
      assert.ok(!(await atDestination()), 'nothing left at the destination');
      assert.equal(await usedVcpus(to), dstBefore, "the destination's claim was given back");
      const actions = (
        await c.admin.req('GET', `/servers/${id}/os-instance-actions`, undefined, mv('2.84'))
      ).body.instanceActions;
      assert.equal(
        actions.find((a: { action: string }) => a.action === 'live-migration').message,
        'Error',
      );
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
      [
        { host: null, block_migration: 'auto', disk_over_commit: false },
        '2.30',
        400,
        /disk_over_commit/,
      ],
      [{ host: null, block_migration: 'auto', disk_over_commit: false }, '2.24', 400, /boolean/],
      [{ host: null, block_migration: false }, '2.24', 400, /disk_over_commit/],
      [{ host: null, block_migration: 'auto', force: true }, '2.68', 400, /force/],
    ];
    for (const [body, version, status, message] of cases) {
      const r = await migrate(id, body, version);
      assert.equal(
        r.status,
        status,
        `${JSON.stringify(body)} at ${version}: ${JSON.stringify(r.body)}`,
      );
      assert.match(JSON.stringify(r.body.badRequest ?? r.body), message);
    }
    assert.equal(
      (await migrate(id, { host: null, block_migration: 'auto' }, '2.30', c.alice)).status,
      403,
    );
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-stop': null })).status, 202);
    await waitFor(c.alice, id, ['SHUTOFF']);
    const stopped = await migrate(id, { host: null, block_migration: 'auto' });
    assert.equal(stopped.status, 409, JSON.stringify(stopped.body));
    const s = (await c.admin.get(`/servers/${id}`)).body.server;
    assert.equal(s['OS-EXT-SRV-ATTR:host'], from, 'refusals change nothing');
    assert.equal(s['OS-EXT-STS:task_state'], null);
  });

  const events = async (id: string, action: string) => {
    const list = (
      await c.admin.req('GET', `/servers/${id}/os-instance-actions`, undefined, mv('2.84'))
    ).body.instanceActions;
    const a = list.find((x: { action: string }) => x.action === action);
    assert.ok(a, `${action} in ${JSON.stringify(list)}`);
    const shown = (
      await c.admin.req(
        'GET',
        `/servers/${id}/os-instance-actions/${a.request_id}`,
        undefined,
        mv('2.84'),
      )
    ).body.instanceAction;
    return {
      message: shown.message as string | null,
      events: Object.fromEntries(
        shown.events.map((e: { event: string; result: string; host: string }) => [
          e.event,
          `${e.result}@${e.host}`,
        ]),
      ),
    };
  };
  const cold = (
    id: string,
    body: Record<string, unknown> | null,
    version = '2.56',
    api = c.admin,
  ) => api.req('POST', `/servers/${id}/action`, { migrate: body }, mv(version));
  const settled = async (id: string) => {
    for (let n = 0; n < 200; n++) {
      const s = (await c.admin.get(`/servers/${id}`)).body.server;
      if (s['OS-EXT-STS:task_state'] === null) return s;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`${id} kept a task`);
  };

  it('cold-migrates an active server: VERIFY_RESIZE running on the other host, both claims held; a confirm removes the first copy', async () => {
    const id = await boot('cold-1');
    const from = await hostOf(id);
    const to = other(from);
    const [srcBefore, dstBefore] = [await usedVcpus(from), await usedVcpus(to)];
    assert.equal((await cold(id, null, '2.1')).status, 202);
    const s = await waitFor(c.admin, id, ['VERIFY_RESIZE']);
    assert.equal(s['OS-EXT-SRV-ATTR:host'], to);
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.equal(await c.drivers.get(to)!.powerState(id), 'running');
    assert.equal(
      await c.drivers.get(from)!.powerState(id),
      'shutdown',
      'the first host keeps its copy, shut down, for a revert',
    );
    assert.deepEqual(
      [await usedVcpus(from), await usedVcpus(to)],
      [srcBefore, dstBefore + 1],
      'both hosts hold the server until it is confirmed',
    );
    assert.deepEqual((await events(id, 'migrate')).events, {
      compute_prep_resize: `Success@${to}`,
      compute_resize_instance: `Success@${from}`,
      compute_finish_resize: `Success@${to}`,
    });
    assert.equal(
      (await c.alice.post(`/servers/${id}/action`, { confirmResize: null })).status,
      204,
    );
    const done = await waitFor(c.admin, id, ['ACTIVE']);
    assert.equal(done['OS-EXT-SRV-ATTR:host'], to);
    assert.ok(
      !(await c.drivers.get(from)!.listInstances()).some((i) => i.uuid === id),
      'the first copy is gone',
    );
    assert.equal(await usedVcpus(from), srcBefore - 1, 'and its claim');
    assert.deepEqual((await events(id, 'confirmResize')).events, {
      compute_confirm_resize: `Success@${from}`,
    });
  });

  it('cold-migrates a stopped server to the host named; a revert brings it back SHUTOFF where it was', async () => {
    const id = await boot('cold-stopped');
    assert.equal((await c.alice.post(`/servers/${id}/action`, { 'os-stop': null })).status, 202);
    await waitFor(c.alice, id, ['SHUTOFF']);
    const from = await hostOf(id);
    const to = other(from);
    const dstBefore = await usedVcpus(to);
    assert.equal((await cold(id, { host: to })).status, 202);
    const s = await waitFor(c.admin, id, ['VERIFY_RESIZE']);
    assert.equal(s['OS-EXT-SRV-ATTR:host'], to);
    assert.equal(s['OS-EXT-STS:power_state'], 4, 'it arrives off, as it was');
    assert.equal((await c.alice.post(`/servers/${id}/action`, { revertResize: null })).status, 202);
    const back = await waitFor(c.admin, id, ['SHUTOFF']);
    assert.equal(back['OS-EXT-SRV-ATTR:host'], from);
    assert.ok(
      !(await c.drivers.get(to)!.listInstances()).some((i) => i.uuid === id),
      "the destination's copy is gone",
    );
    assert.equal(await usedVcpus(to), dstBefore, 'and its claim');
    assert.equal(await c.drivers.get(from)!.powerState(id), 'shutdown');
    assert.deepEqual((await events(id, 'revertResize')).events, {
      compute_revert_resize: `Success@${to}`,
      compute_finish_revert_resize: `Success@${from}`,
    });
  });

  it('a reverted cold migration of an active server runs it again on its first host; deleting in VERIFY_RESIZE removes both copies', async () => {
    const id = await boot('cold-revert');
    const from = await hostOf(id);
    assert.equal((await cold(id, null)).status, 202);
    await waitFor(c.admin, id, ['VERIFY_RESIZE']);
    assert.equal((await c.alice.post(`/servers/${id}/action`, { revertResize: null })).status, 202);
    const back = await waitFor(c.admin, id, ['ACTIVE']);
    assert.equal(back['OS-EXT-SRV-ATTR:host'], from);
    assert.equal(await c.drivers.get(from)!.powerState(id), 'running');

    assert.equal((await cold(id, null)).status, 202);
    await waitFor(c.admin, id, ['VERIFY_RESIZE']);
    assert.equal((await c.alice.req('DELETE', `/servers/${id}`)).status, 204);
    for (let n = 0; n < 200 && (await c.admin.get(`/servers/${id}`)).status !== 404; n++)
      await new Promise((r) => setTimeout(r, 25));
    for (const h of ['lm-a', 'lm-b']) {
      for (
        let n = 0;
        n < 100 && (await c.drivers.get(h)!.listInstances()).some((i) => i.uuid === id);
        n++
      )
        await new Promise((r) => setTimeout(r, 25));
      assert.ok(
        !(await c.drivers.get(h)!.listInstances()).some((i) => i.uuid === id),
        `nothing left on ${h}`,
      );
    }
  });

  it('a cold migration whose disks cannot be sent leaves the server ACTIVE and running on its host', async () => {
    const id = await boot('cold-fail');
    const from = await hostOf(id);
    failing.add(`${from}:migrate:${id}`);
    const dstBefore = await usedVcpus(other(from));
    assert.equal((await cold(id, null)).status, 202);
    const s = await settled(id);
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], from);
    assert.equal(await c.drivers.get(from)!.powerState(id), 'running');
    assert.equal(await usedVcpus(other(from)), dstBefore);
    assert.equal((await events(id, 'migrate')).message, 'Error');
  });

  it('refuses a host before 2.56, a paused server, and a non-admin', async () => {
    const id = await boot('cold-refused');
    const early = await cold(id, { host: 'lm-a' }, '2.55');
    assert.equal(early.status, 400, JSON.stringify(early.body));
    assert.match(early.body.badRequest.message, /host/);
    assert.equal((await cold(id, null, '2.56', c.alice)).status, 403);
    assert.equal((await c.alice.post(`/servers/${id}/action`, { pause: null })).status, 202);
    await waitFor(c.alice, id, ['PAUSED']);
    assert.equal((await cold(id, null)).status, 409);
  });
});
