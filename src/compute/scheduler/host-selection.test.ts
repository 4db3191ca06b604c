// The filter scheduler's choice on hand-made host snapshots: each filter keeps exactly the hosts it
// should, weighers spread load and avoid failing hosts, and the trail says which filter emptied the list.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SCHEDULER_CONFIG,
  checkSchedulerConfig,
  selectHosts,
  type HostState,
  type RequestSpec,
} from './host-selection.ts';

const host = (name: string, over: Partial<HostState> = {}): HostState => ({
  host: name,
  availabilityZone: 'nova',
  enabled: true,
  up: true,
  hypervisorType: 'fake',
  failedBuilds: 0,
  aggregateMetadata: {},
  capacity: { vcpus: 16, memoryMb: 8192, diskGb: 100 },
  used: { vcpus: 0, memoryMb: 0, diskGb: 0 },
  ...over,
});
const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({
  flavor: {
    id: '1',
    name: 'f',
    vcpus: 2,
    memoryMb: 1024,
    rootGb: 10,
    ephemeralGb: 0,
    swapMb: 0,
    extraSpecs: {},
  },
  imageProperties: {},
  availabilityZone: null,
  group: null,
  sameHost: null,
  differentHost: null,
  ignoreHosts: [],
  ...over,
});
const pick = (hosts: HostState[], s: RequestSpec) =>
  selectHosts(hosts, s, DEFAULT_SCHEDULER_CONFIG).hosts;

describe('host selection', () => {
  it('drops disabled, down, full, wrong-zone and already-tried hosts', () => {
    const hosts = [
      host('ok'),
      host('off', { enabled: false }),
      host('down', { up: false }),
      host('full', { used: { vcpus: 15, memoryMb: 0, diskGb: 0 } }),
      host('elsewhere', { availabilityZone: 'az2' }),
      host('tried'),
    ];
    assert.deepEqual(pick(hosts, spec({ availabilityZone: 'nova', ignoreHosts: ['tried'] })), [
      'ok',
    ]);
    assert.deepEqual(pick(hosts, spec({ availabilityZone: 'az2' })), ['elsewhere']);
  });

  it('keeps groups together or apart, hard and soft', () => {
    const hosts = [host('a'), host('b'), host('c')];
    assert.deepEqual(pick(hosts, spec({ group: { policy: 'affinity', memberHosts: ['b'] } })), [
      'b',
    ]);
    assert.deepEqual(
      pick(hosts, spec({ group: { policy: 'affinity', memberHosts: [] } })).length,
      3,
      'the first member goes anywhere',
    );
    assert.deepEqual(
      pick(hosts, spec({ group: { policy: 'anti-affinity', memberHosts: ['a', 'b'] } })),
      ['c'],
    );
    assert.deepEqual(
      pick(hosts, spec({ group: { policy: 'anti-affinity', memberHosts: ['a', 'b', 'c'] } })),
      [],
      'no host left for a fourth member',
    );
    assert.deepEqual(
      pick(
        hosts,
        spec({
          group: { policy: 'anti-affinity', memberHosts: ['a', 'b', 'c'], maxServerPerHost: 2 },
        }),
      ).length,
      3,
    );
    assert.equal(
      pick(hosts, spec({ group: { policy: 'soft-affinity', memberHosts: ['c', 'c'] } }))[0],
      'c',
    );
    assert.notEqual(
      pick(hosts, spec({ group: { policy: 'soft-anti-affinity', memberHosts: ['a', 'b'] } }))[0],
      'a',
    );
    assert.equal(
      pick(hosts, spec({ group: { policy: 'soft-anti-affinity', memberHosts: ['a', 'b'] } }))[0],
      'c',
    );
  });

  it('honours same_host and different_host hints, image hypervisor type and aggregate extra specs', () => {
    const hosts = [
      host('a'),
      host('b', { hypervisorType: 'qemu', aggregateMetadata: { ssd: ['true'] } }),
    ];
    assert.deepEqual(pick(hosts, spec({ sameHost: ['b'] })), ['b']);
    assert.deepEqual(pick(hosts, spec({ differentHost: ['b'] })), ['a']);
    assert.deepEqual(
      pick(hosts, spec({ imageProperties: { img_hv_type: 'kvm' } })),
      ['b'],
      'kvm images run on qemu hosts',
    );
    const ssd = spec();
    assert.deepEqual(
      pick(hosts, {
        ...ssd,
        flavor: {
          ...ssd.flavor,
          extraSpecs: { 'aggregate_instance_extra_specs:ssd': 'true', 'hw:cpu_policy': 'shared' },
        },
      }),
      ['b'],
    );
  });

  it('spreads by free RAM and CPU, and sends builds away from hosts that fail them', () => {
    const busy = host('busy', { used: { vcpus: 8, memoryMb: 6000, diskGb: 50 } });
    assert.deepEqual(pick([busy, host('idle')], spec()), ['idle', 'busy']);
    assert.deepEqual(pick([host('flaky', { failedBuilds: 3 }), busy], spec()), ['busy', 'flaky']);
  });

  it('says which filter left no host, and refuses unknown names in the configuration', () => {
    const r = selectHosts([host('a', { enabled: false })], spec(), DEFAULT_SCHEDULER_CONFIG);
    assert.deepEqual(r.hosts, []);
    assert.deepEqual(r.trail.at(-1), { filter: 'ComputeFilter', left: 0 });
    assert.throws(
      () => checkSchedulerConfig({ filters: ['NoSuchFilter'], weighers: {} }),
      /unknown scheduler filter NoSuchFilter/,
    );
    checkSchedulerConfig(DEFAULT_SCHEDULER_CONFIG);
  });
});
