// The log tells an action's life, not only its request (issue 15, item 16): why a reboot took 60 s
// is findable by instance or request id, at info level, from the api, the agent and the conductor
// (the host's guest ignores the power button, as a guest still booting does).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import { Gates, heldDriver } from '../support/held-driver.ts';
import { FakeDriver } from '../../src/compute/agent/virt/fake/fake-driver.ts';
import { startHostAgent, type HostAgent } from '../../src/compute/agent/host-agent.ts';
import { inProcessImageTransfer } from '../../src/cli/image-transfer.ts';

type Line = { level: number; msg: string } & Record<string, unknown>;

describe('lifecycle lines in the log', () => {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  let c: ComputeCloud;
  let agent: HostAgent;
  const gates = new Gates();

  before(async () => {
    c = await startComputeCloud({}, { log });
    agent = await startHostAgent({
      bus: c.bus,
      host: 'logged',
      log,
      version: 'test',
      driver: heldDriver(new FakeDriver(), gates),
      heartbeatMs: 1000,
      images: inProcessImageTransfer(c.cloud.image),
    });
    await agent.registered;
  });
  after(async () => {
    await agent.stop();
    await c.close();
  });

  it('a soft reboot writes its start, its wait for a clean shutdown, the forced stop and its end, each with instance and request ids', async () => {
    const r = await c.boot(c.alice, { name: 'logged' });
    const id: string = r.body.server.id;
    await waitFor(c.alice, id, ['ACTIVE']);
    let requestId = '';
    const release = gates.hold('powerOff');
    try {
      const rebooted = await c.alice.req('POST', `/servers/${id}/action`, {
        reboot: { type: 'SOFT' },
      });
      assert.equal(rebooted.status, 202);
      // The id the answer names is the one a user greps the log for.
      requestId = String(rebooted.headers['x-openstack-request-id']);
      assert.match(requestId, /^req-[0-9a-f-]{36}$/);
      for (const end = Date.now() + 5000; !lines.some((l) => l.msg === 'clean shutdown requested');)
        if (Date.now() > end) assert.fail('no line says the clean shutdown was asked for');
        else await new Promise((res) => setTimeout(res, 5));
    } finally {
      release();
    }
    await waitFor(c.alice, id, ['ACTIVE']);
    for (const end = Date.now() + 5000; !lines.some((l) => l.msg === 'instance.reboot end');)
      if (Date.now() > end) break;
      else await new Promise((res) => setTimeout(res, 5));

    const mine = lines.filter((l) => l['instance_id'] === id && l['request_id'] === requestId);
    const said = mine.map((l) => l.msg);
    for (const msg of [
      'instance.reboot start',
      'instance.reboot cast to host',
      'instance.reboot queued',
      'instance.reboot host start',
      'clean shutdown requested',
      'guest did not stop in 60 s, forcing',
      'instance.reboot host end',
      'instance.reboot end',
    ])
      assert.ok(said.includes(msg), `"${msg}" is logged with both ids; found: ${said.join(' | ')}`);
    assert.ok(
      mine.every((l) => l.level === 30),
      'at info level',
    );
    assert.equal(mine.find((l) => l.msg === 'clean shutdown requested')!['timeout_s'], 60);
    const end = mine.find((l) => l.msg === 'instance.reboot end')!;
    assert.equal(typeof end['ms'], 'number', 'the end says how long the action took');
    assert.equal(end['ok'], true);
    assert.equal(typeof mine.find((l) => l.msg === 'instance.reboot host end')!['ms'], 'number');
  });
});
