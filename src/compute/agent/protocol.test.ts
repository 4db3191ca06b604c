// The compute conversation's tables: what agents send parses at the conductor (and what the
// conductor answers at the agent), and what does not is refused with a message naming the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBus, MemoryHub } from '../../platform/bus/memory.ts';
import { serveRpc } from '../../platform/bus/rpc.ts';
import {
  AGENT_PROTOCOL,
  agentClient,
  CONDUCTOR_PROTOCOL,
  CONDUCTOR_TARGET,
  conductorClient,
  actionName,
  parseHostReport,
  parseHostWorkStep,
  type WireHostReport,
} from './protocol.ts';

const report: WireHostReport = {
  host: 'h1',
  hypervisor_type: 'QEMU',
  hypervisor_version: 8002000,
  cpu_info: '{}',
  host_ip: null,
  vcpus: 4,
  memory_mb: 8192,
  disk_gb: 100,
  agent_version: '0.1.0',
  console_url: 'http://h1:6080/console/',
  console_note: null,
  cpu_allocation_ratio: 2,
  ram_allocation_ratio: null,
  disk_allocation_ratio: null,
};

describe('compute protocol', () => {
  it('parses a host report, keeping console text within bounds and checking ratios', () => {
    assert.deepEqual(parseHostReport({ ...report }), report);
    // Text too long for the record is dropped, not refused (a note is informative only).
    const long = parseHostReport({ ...report, console_note: 'x'.repeat(2001), console_url: '' });
    assert.equal(long.console_note, null);
    assert.equal(long.console_url, null);
    assert.throws(
      () => parseHostReport({ ...report, vcpus: -1 }),
      /host report: vcpus must be a count/,
    );
    assert.throws(
      () => parseHostReport({ ...report, host: '' }),
      /host must be a non-empty string/,
    );
    assert.throws(
      () => parseHostReport({ ...report, ram_allocation_ratio: 0 }),
      /ram_allocation_ratio must be a number above 0/,
    );
  });

  it("parses a work step, refusing unknown steps and ill-typed fields; names each op's action", () => {
    const step = { op: 'reboot', uuid: 'u1', host: 'h1', action_id: 'a1', step: 'shutdown_wait' };
    assert.deepEqual(parseHostWorkStep({ ...step, seconds: 60 }), { ...step, seconds: 60 });
    assert.throws(() => parseHostWorkStep({ ...step, step: 'napping' }), /unknown work step/);
    assert.throws(() => parseHostWorkStep({ ...step, op: 'fly' }), /unknown host op/);
    assert.throws(() => parseHostWorkStep({ ...step, seconds: -1 }), /seconds/);
    assert.throws(() => parseHostWorkStep({ ...step, behind: 'yes' }), /behind/);
    assert.throws(() => parseHostWorkStep({ ...step, host: undefined } as never), /malformed/);
    assert.deepEqual((['build', 'destroy', 'reboot_hard', 'snapshot'] as const).map(actionName), [
      'create',
      'delete',
      'reboot',
      'snapshot',
    ]);
  });

  it('carries calls both ways, and each end refuses what does not parse', async () => {
    const hub = new MemoryHub();
    const api = createMemoryBus({ hub });
    const agent = createMemoryBus({ hub });
    const results: string[] = [];
    await serveRpc(api, CONDUCTOR_TARGET, CONDUCTOR_PROTOCOL, {
      'host.report': (r) => ({ host: r.host, hypervisor_id: '7', availability_zone: 'nova' }),
      'host.heartbeat': () => ({ known: true }),
      'host.power': (p) => ({ stop: p.instances.map((i) => i.uuid) }),
      'host.reconcile': () => ({ destroy: [], forget: [] }),
      'instance.result': (r) => void results.push(`${r.op} ${r.ok}`),
      'instance.step': (r) => void results.push(`${r.op} ${r.step}`),
      // A broken conductor: the agent must refuse this answer rather than use it.
      'console.consume': () => ({ nothing: true }) as never,
      'image.read': () => ({ data: '', eof: true }),
      'image.upload.chunk': () => undefined,
      'image.upload.finish': () => undefined,
    });
    await serveRpc(agent, 'compute.h1', AGENT_PROTOCOL, {
      ping: () => ({ host: 'h1', version: 'v', uptime_ms: 1 }),
      'instance.work': () => undefined,
      'instance.console': (r) => ({ output: `console of ${r.uuid}, ${r.max_bytes} bytes` }),
    });
    const conductor = conductorClient(agent);
    assert.deepEqual(await conductor.call('host.report', report), {
      host: 'h1',
      hypervisor_id: '7',
      availability_zone: 'nova',
    });
    assert.deepEqual(await conductor.call('host.heartbeat', { host: 'h1' }), { known: true });
    assert.deepEqual(
      await conductor.call('host.power', {
        host: 'h1',
        instances: [{ uuid: 'u1', power_state: 'running', fault: null }],
      }),
      { stop: ['u1'] },
    );
    await conductor.cast('instance.result', {
      op: 'stop',
      uuid: 'u1',
      host: 'h1',
      action_id: null,
      ok: true,
      power_state: 'shutdown',
    });
    await assert.rejects(conductor.call('console.consume', { token: 't', host: 'h1' }), {
      code: 'bus_bad_reply',
      message: /console.consume is malformed: console token answer: refused must be a string/,
    });
    // An older or broken agent: its malformed request is refused at the conductor.
    await assert.rejects(
      agent.call(CONDUCTOR_TARGET, 'host.reconcile', { host: 'h1', instances: [{ uuid: 1 }] }),
      { code: 'bad_request', message: /host reconcile: an instance: uuid must be a string/ },
    );
    await assert.rejects(
      agent.call(CONDUCTOR_TARGET, 'image.read', { image_id: 'x', offset: 0, length: 1 }),
      /image_id must be a string matching/,
    );
    const client = agentClient(api, 'h1');
    assert.equal(
      (await client.call('instance.console', { uuid: 'u1', max_bytes: 10 })).output,
      'console of u1, 10 bytes',
    );
    assert.equal((await client.call('ping', {})).host, 'h1');
    for (const end = Date.now() + 2000; results.length === 0 && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(results, ['stop true']);
    await api.close();
    await agent.close();
  });
});
