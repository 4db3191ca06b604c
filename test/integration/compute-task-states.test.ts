// What a user sees while a long action runs (issue 15, item 14): the task is set before the 202 and
// then follows the host's steps, progress grows through builds, snapshots and resizes, and the
// action's events say why it waits. The host is a fake whose driver calls the test holds open.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import type { Api } from '../support/client.ts';
import { Gates, heldDriver, heldUploads, type Gate } from '../support/held-driver.ts';
import { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import { startHostAgent, type HostAgent } from '../../src/compute/agent/host-agent.ts';
import { inProcessImageTransfer } from '../../src/cli/image-transfer.ts';
import { silentLogger } from '../../src/platform/log.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('task states, progress and wait events while a host works', () => {
  let c: ComputeCloud;
  let alice: Api;
  let agent: HostAgent;
  const gates = new Gates();
  let id: string;

  const show = async (api: Api = alice) => {
    const r = await api.get(`/servers/${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.server;
  };
  const task = (s: any): string | null => s['OS-EXT-STS:task_state'];
  /** Polls until `ok` holds of the server, noting each progress value seen on the way. */
  async function until(
    ok: (s: any) => boolean,
    seen: number[] = [],
    what = 'a state',
  ): Promise<any> {
    for (const end = Date.now() + 10_000; ; await sleep(5)) {
      const s = await show();
      if (typeof s.progress === 'number' && seen.at(-1) !== s.progress) seen.push(s.progress);
      if (ok(s)) return s;
      if (Date.now() > end)
        throw new Error(`server is ${s.status}/${task(s)} (progress ${s.progress}), not ${what}`);
    }
  }
  /**
   * Acts with `gate` held: right after the answer the server shows one of `now` (the api's task, or
   * the host's first steps), then the host's `held` task while the gate stays shut; once released
   * it ends in `end`.
   */
  async function during(
    body: unknown,
    gate: Gate,
    now: readonly string[],
    held: string,
    end: string,
  ): Promise<void> {
    const release = gates.hold(gate);
    try {
      const r = await alice.post(`/servers/${id}/action`, body);
      assert.ok(
        [200, 202, 204].includes(r.status),
        `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`,
      );
      const s = await show();
      assert.ok(
        now.includes(task(s) ?? 'null'),
        `${JSON.stringify(body)}: right after its answer the task is ${task(s)} (${s.status}), not one of ${now.join(', ')}`,
      );
      await until((x) => task(x) === held, [], `${held} while its host works`);
    } finally {
      release();
    }
    await waitFor(alice, id, [end]);
  }

  before(async () => {
    c = await startComputeCloud({});
    alice = c.alice;
    agent = await startHostAgent({
      bus: c.bus,
      host: 'held',
      log: silentLogger(),
      version: 'test',
      driver: heldDriver(new FakeDriver(), gates),
      heartbeatMs: 1000,
      images: heldUploads(inProcessImageTransfer(c.cloud.image), gates),
    });
    await agent.registered;
  });
  after(async () => {
    await agent.stop();
    await c.close();
  });

  it('a build shows its steps as task states, with progress 0 as Nova (the CLI prints any other value into its output)', async () => {
    const release = gates.hold('spawn');
    const seen: number[] = [];
    try {
      const r = await c.boot(alice, { name: 'watched' });
      assert.equal(r.status, 202);
      id = r.body.server.id;
      const s = await until((x) => task(x) === 'spawning', seen, 'spawning');
      assert.equal(s.status, 'BUILD');
    } finally {
      release();
    }
    const done = await waitFor(alice, id, ['ACTIVE']);
    assert.equal(done.progress, 100);
    assert.deepEqual(seen, [0], `a build's progress stays 0: ${seen.join(' → ')}`);
  });

  it('a soft reboot is rebooting before its 202, then reboot_started; its events say it waits for a clean shutdown, then forced it', async () => {
    const releaseShutdown = gates.hold('powerOff');
    try {
      const r = await alice.req('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
      assert.equal(r.status, 202);
      const rid = String(r.headers['x-openstack-request-id']);
      assert.ok(['rebooting', 'reboot_pending', 'reboot_started'].includes(task(await show())!));
      const s = await until((x) => task(x) === 'reboot_started', [], 'reboot_started');
      assert.equal(s.status, 'REBOOT');
      // While the guest is given its time: the wait is an event that has begun and not ended. The
      // host says so in its own step, which may land just after reboot_started.
      let waiting = await events(rid);
      for (const end = Date.now() + 10_000; Date.now() < end; await sleep(5)) {
        if (waiting.some((e) => e.event === 'compute_clean_shutdown_wait')) break;
        waiting = await events(rid);
      }
      const wait = waiting.find((e) => e.event === 'compute_clean_shutdown_wait');
      assert.ok(wait, `the wait is recorded: ${JSON.stringify(waiting)}`);
      assert.equal(wait.finish_time, null);
      assert.ok(waiting.some((e) => e.event === 'compute_reboot_instance'));
    } finally {
      releaseShutdown();
    }
    await waitFor(alice, id, ['ACTIVE']);
    const all = await events((await actions()).find((a: any) => a.action === 'reboot').request_id);
    const wait = all.find((e) => e.event === 'compute_clean_shutdown_wait')!;
    assert.notEqual(wait.finish_time, null, 'the wait ended');
    assert.ok(
      all.some((e) => e.event === 'compute_force_power_off'),
      `the guest was forced off, and it says so: ${JSON.stringify(all)}`,
    );
    assert.equal(all.find((e) => e.event === 'compute_reboot_instance')!.result, 'Success');
  });

  const actions = async () =>
    (await alice.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
  async function events(requestId: string): Promise<any[]> {
    const r = await alice.req('GET', `/servers/${id}/os-instance-actions/${requestId}`, undefined, {
      'openstack-api-version': 'compute 2.51',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.instanceAction.events;
  }

  it('every power action shows its task at once, then the host at work', async () => {
    await during(
      { reboot: { type: 'HARD' } },
      'reboot',
      ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'],
      'reboot_started_hard',
      'ACTIVE',
    );
    await during({ pause: null }, 'pause', ['pausing'], 'pausing', 'PAUSED');
    await during({ unpause: null }, 'unpause', ['unpausing'], 'unpausing', 'ACTIVE');
    await during({ suspend: null }, 'suspend', ['suspending'], 'suspending', 'SUSPENDED');
    await during({ resume: null }, 'resume', ['resuming'], 'resuming', 'ACTIVE');
    await during({ rescue: null }, 'rescue', ['rescuing'], 'rescuing', 'RESCUE');
    await during({ unrescue: null }, 'unrescue', ['unrescuing'], 'unrescuing', 'ACTIVE');
    await during({ 'os-stop': null }, 'powerOff', ['powering-off'], 'powering-off', 'SHUTOFF');
    await during({ 'os-start': null }, 'powerOn', ['powering-on'], 'powering-on', 'ACTIVE');
  });

  it('a snapshot goes image_snapshot → pending → pending upload → done, its progress growing', async () => {
    const release = gates.hold('upload');
    const seen: number[] = [];
    try {
      const r = await alice.post(`/servers/${id}/action`, {
        createImage: { name: 'watched-snap' },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const first = await show();
      assert.ok(
        ['image_snapshot', 'image_snapshot_pending', 'image_pending_upload'].includes(task(first)!),
        `right after its answer the task is ${task(first)}`,
      );
      if (typeof first.progress === 'number') seen.push(first.progress);
      await until((x) => task(x) === 'image_pending_upload', seen, 'image_pending_upload');
    } finally {
      release();
    }
    await until((x) => task(x) === null, seen, 'done');
    assert.ok(seen.length >= 3, `progress grew through the steps: ${seen.join(' → ')}`);
    assert.equal(seen.at(-1), 100);
    assert.deepEqual(
      seen.slice(0, -1),
      [...seen.slice(0, -1)].sort((a, b) => a - b),
    );
  });

  it('a resize is RESIZE with progress at once, and confirm shows resize_confirming', async () => {
    const release = gates.hold('resize');
    try {
      const r = await alice.post(`/servers/${id}/action`, { resize: { flavorRef: '2' } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const s = await show();
      assert.equal(s.status, 'RESIZE');
      assert.ok(['resize_prep', 'resize_migrating'].includes(task(s)!));
      const held = await until((x) => x.progress >= 30, [], 'the host resizing');
      assert.equal(task(held), 'resize_migrating');
    } finally {
      release();
    }
    await waitFor(alice, id, ['VERIFY_RESIZE']);
    await during(
      { confirmResize: null },
      'confirmResize',
      ['resize_confirming'],
      'resize_confirming',
      'ACTIVE',
    );
  });

  it('a rebuild shows rebuild_spawning once its old guest is gone', async () => {
    await during(
      { rebuild: { imageRef: c.imageId } },
      'spawn',
      ['rebuilding'],
      'rebuild_spawning',
      'ACTIVE',
    );
  });

  it('shelve is shelving before its 202 (not ACTIVE with no task), then uploads its disk; unshelve is unshelving', async () => {
    const releaseUpload = gates.hold('upload');
    const releaseShutdown = gates.hold('powerOff');
    try {
      const r = await alice.post(`/servers/${id}/action`, { shelve: null });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const s = await show();
      assert.equal(task(s), 'shelving', `right after its answer: ${s.status}/${task(s)}`);
      releaseShutdown();
      await until((x) => task(x) === 'shelving_image_pending_upload', [], 'its disk copied');
    } finally {
      releaseShutdown();
      releaseUpload();
    }
    await waitFor(alice, id, ['SHELVED_OFFLOADED']);
    await during({ unshelve: null }, 'spawn', ['unshelving'], 'unshelving', 'ACTIVE');
  });

  it('a delete is deleting before its answer, and its events say it waits behind the work its host is still doing', async () => {
    const release = gates.hold('pause');
    try {
      assert.equal((await alice.post(`/servers/${id}/action`, { pause: null })).status, 202);
      await until((x) => task(x) === 'pausing', [], 'pausing');
      const d = await alice.del(`/servers/${id}`);
      assert.equal(d.status, 204);
      assert.equal(task(await show()), 'deleting');
      const rid = String(d.headers['x-openstack-request-id']);
      for (const end = Date.now() + 5000; ; await sleep(5)) {
        const e = (await events(rid)).find((x) => x.event === 'compute_wait_for_previous_work');
        if (e) {
          assert.equal(e.finish_time, null, 'still waiting');
          break;
        }
        assert.ok(Date.now() < end, 'the delete says it waits behind the pause');
      }
    } finally {
      release();
    }
    await waitFor(alice, id, ['DELETED']);
  });
});
