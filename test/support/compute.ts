// An in-process cloud with compute hosts for integration tests: the API, the conductor, and host
// agents on fake drivers over the memory bus; alice and bob in their own projects; a public image.
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from './cloud.ts';
import { adminApi, projectUser, type Api } from './client.ts';
import { createMemoryBus } from '../../src/platform/bus/memory.ts';
import { startHostAgent, type HostAgent } from '../../src/compute/agent/host-agent.ts';
import {
  FakeDriver,
  type FakeDriverOptions,
} from '../../src/compute/agent/virt/fake/fake-driver.ts';
import { inProcessImageTransfer } from '../../src/cli/image-transfer.ts';
import type { ImageTransfer } from '../../src/compute/agent/instance-work.ts';
import { silentLogger, type Logger } from '../../src/platform/log.ts';
import type { Bus, Subscription } from '../../src/platform/bus/bus.ts';

export const mv = (v: string) => ({ 'openstack-api-version': `compute ${v}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls a server until its status is one of `want` ('DELETED' also matches a 404). */
export async function waitFor(
  api: Api,
  id: string,
  want: string[],
  timeoutMs = 10_000,
): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.get(`/servers/${id}`);
    if (r.status === 404 && want.includes('DELETED')) return null;
    if (r.status === 200 && want.includes(r.body.server.status)) return r.body.server;
    if (Date.now() > until) {
      const s = r.body?.server;
      throw new Error(
        `server ${id} is ${s ? `${s.status} (task ${s['OS-EXT-STS:task_state']}${s.fault ? `, fault ${s.fault.message}` : ''})` : r.status}, not ${want.join('/')}`,
      );
    }
    await sleep(10);
  }
}

export interface ComputeCloud {
  readonly cloud: TestCloud;
  readonly admin: Api;
  readonly alice: Api;
  readonly aliceProject: string;
  readonly bob: Api;
  readonly imageId: string;
  readonly bus: Bus;
  readonly drivers: Map<string, FakeDriver>;
  /** Another host; `images` defaults to the in-process transfer (as in `nubes up`). */
  addHost(
    host: string,
    opts: FakeDriverOptions,
    images?: ImageTransfer,
    agent?: {
      powerSyncMs?: number;
      ratios?: { cpu: number | null; ram: number | null; disk: number | null };
    },
  ): Promise<HostAgent>;
  boot(
    api: Api,
    body?: Record<string, unknown>,
    hints?: Record<string, unknown>,
  ): ReturnType<Api['post']>;
  close(): Promise<void>;
}

/** `opts.log`: where the cloud and its agents log (default: nowhere). */
export async function startComputeCloud(
  hosts: Readonly<Record<string, FakeDriverOptions>>,
  opts: { log?: Logger } = {},
): Promise<ComputeCloud> {
  const cloud = await startTestCloud({}, opts.log);
  const adminId = await adminApi(cloud.app);
  const a = await projectUser(adminId, 'alice');
  const bob = (await projectUser(adminId, 'bob')).api.on('/compute/v2.1');
  // Alice's image, published by an admin so that bob may boot it too.
  const imageId = (
    await a.api
      .on('/image')
      .post('/v2/images', { name: 'disk', disk_format: 'raw', container_format: 'bare' })
  ).body.id;
  const up = await a.api
    .on('/image')
    .req('PUT', `/v2/images/${imageId}/file`, Buffer.alloc(1024 * 1024));
  assert.equal(up.status, 204, JSON.stringify(up.body));
  await adminId
    .on('/image')
    .req(
      'PATCH',
      `/v2/images/${imageId}`,
      JSON.stringify([{ op: 'replace', path: '/visibility', value: 'public' }]),
      { 'content-type': 'application/openstack-images-v2.1-json-patch' },
    );
  const bus = createMemoryBus();
  const conductor: Subscription = await cloud.compute.serveConductor(bus);
  const agents: HostAgent[] = [];
  const drivers = new Map<string, FakeDriver>();
  const agentLog = opts.log ?? silentLogger();
  async function addHost(
    host: string,
    opts: FakeDriverOptions,
    images: ImageTransfer = inProcessImageTransfer(cloud.image),
    more: {
      powerSyncMs?: number;
      ratios?: { cpu: number | null; ram: number | null; disk: number | null };
    } = {},
  ): Promise<HostAgent> {
    const driver = new FakeDriver(opts);
    drivers.set(host, driver);
    const agent = await startHostAgent({
      bus,
      host,
      log: agentLog,
      version: 'test',
      driver,
      heartbeatMs: 1000,
      images,
      ...more,
    });
    agents.push(agent);
    await agent.registered;
    return agent;
  }
  for (const [host, opts] of Object.entries(hosts)) await addHost(host, opts);
  const alice = a.api.on('/compute/v2.1');
  return {
    cloud,
    admin: adminId.on('/compute/v2.1'),
    alice,
    aliceProject: a.projectId,
    bob,
    imageId,
    bus,
    drivers,
    addHost,
    boot: (api, body = {}, hints) =>
      api.post('/servers', {
        server: { name: 'vm', imageRef: imageId, flavorRef: '1', ...body },
        ...(hints ? { 'os:scheduler_hints': hints } : {}),
      }),
    async close() {
      for (const ag of agents) await ag.stop();
      await conductor.close();
      await bus.close();
      await cloud.close();
    },
  };
}
