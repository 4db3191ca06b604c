// Issue 5's benchmark: a real `nubes up --virt-driver fake --fake-hosts 1000` (SQLite, in-process
// bus), driven over HTTP from this process. Server creates per second until ACTIVE and the
// create→ACTIVE latency of each (from the POST leaving here to the server's launched_at), the
// scheduler's decisions per second over 1,000 host snapshots (pure, and with claims on a database),
// and the latency of a 1,000-server page of /servers/detail (what `server list --long` fetches) with
// 10,000 servers. Baseline in the same run: a bare node:http server answering the same page body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNubes, removeDir } from '../test/support/nubes-process.ts';
import { AS_USERS_RUN, rssMiB, serialLatency, startBaselineServer, table } from './lib.ts';
import {
  DEFAULT_SCHEDULER_CONFIG,
  selectHosts,
  type HostState,
  type RequestSpec,
} from '../src/compute/scheduler/host-selection.ts';
import { openDatabase } from '../src/platform/db/database.ts';
import type { ComputeTables } from '../src/compute/store/tables.ts';
import { createScheduler } from '../src/compute/scheduler/scheduler.ts';
import { upsertReport } from '../src/compute/store/hosts.ts';
import { insertInstances } from '../src/compute/store/instances.ts';
import { silentLogger } from '../src/platform/log.ts';
import type { Instance } from '../src/compute/model.ts';

export interface ComputeBenchResult {
  readonly rows: (string | number)[][];
  readonly summary: Record<string, number>;
}

async function json(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const FLAVOR = {
  id: '42',
  name: 'm1.nano',
  vcpus: 1,
  memoryMb: 128,
  rootGb: 1,
  ephemeralGb: 0,
  swapMb: 0,
  extraSpecs: {},
};

/** Pure filter-and-weigh decisions over a 1,000-host snapshot, one after another. */
function pureDecisions(hosts: number, seconds: number): number {
  const snapshot: HostState[] = Array.from({ length: hosts }, (_, n) => ({
    host: `h${n}`,
    availabilityZone: 'nova',
    enabled: true,
    up: true,
    hypervisorType: 'fake',
    failedBuilds: n % 97 === 0 ? 1 : 0,
    aggregateMetadata: {},
    capacity: { vcpus: 64, memoryMb: 32768, diskGb: 1024 },
    used: { vcpus: n % 60, memoryMb: (n * 37) % 30000, diskGb: n % 900 },
  }));
  const spec: RequestSpec = {
    flavor: FLAVOR,
    imageProperties: {},
    availabilityZone: null,
    group: null,
    sameHost: null,
    differentHost: null,
    ignoreHosts: [],
  };
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    selectHosts(snapshot, spec, DEFAULT_SCHEDULER_CONFIG, 1);
    done++;
  }
  return done / ((performance.now() - start) / 1000);
}

/** Placements with their claims, through the scheduler on a SQLite database of 1,000 hosts. */
async function placementsWithClaims(hosts: number, count: number): Promise<number> {
  const database = await openDatabase<ComputeTables>('sqlite::memory:');
  try {
    const { db } = database;
    const now = Date.now();
    for (let n = 0; n < hosts; n++) {
      await upsertReport(
        db,
        {
          host: `h${n}`,
          hypervisorType: 'fake',
          hypervisorVersion: 1,
          cpuInfo: '{}',
          hostIp: null,
          vcpus: 16,
          memoryMb: 32768,
          diskGb: 1024,
          agentVersion: 'b',
        },
        { availabilityZone: 'nova', ratios: { cpu: 4, ram: 1, disk: 1 } },
        now,
      );
    }
    const request = {
      availabilityZone: null,
      forcedHost: null,
      groupId: null,
      sameHost: [],
      differentHost: [],
      imageProperties: {},
      tried: [],
    };
    const rows = Array.from({ length: count }, (_, n) => ({
      id: crypto.randomUUID(),
      name: `b${n}`,
      description: null,
      projectId: 'p',
      userId: 'u',
      availabilityZone: null,
      flavor: FLAVOR,
      imageId: null,
      kernelId: null,
      ramdiskId: null,
      keyName: null,
      keyData: null,
      userData: null,
      metadata: {},
      hostname: `b${n}`,
      reservationId: 'r',
      launchIndex: 0,
      configDrive: false,
      accessIpv4: null,
      accessIpv6: null,
      securityGroups: [],
      requestedNetworks: 'none' as const,
      request,
      createdAt: now,
    }));
    await insertInstances(db, rows);
    const scheduler = createScheduler({
      db: database.handle,
      config: DEFAULT_SCHEDULER_CONFIG,
      downAfterMs: 60_000,
      log: silentLogger(),
    });
    const list = rows.map(
      (r) =>
        ({
          ...r,
          host: null,
          vmState: 'building',
          taskState: 'scheduling',
          powerState: 0,
          lockedBy: null,
          lockedReason: null,
          fault: null,
          launchedAt: null,
          terminatedAt: null,
          updatedAt: now,
          deletedAt: null,
          migration: null,
        }) as unknown as Instance,
    );
    const start = performance.now();
    const placed = await scheduler.place(list);
    const seconds = (performance.now() - start) / 1000;
    if (placed.some((p) => !p.ok)) throw new Error('a placement failed in the scheduler benchmark');
    return count / seconds;
  } finally {
    await database.close();
  }
}

export async function runComputeBench(opts: {
  hosts: number;
  creates: number;
  listServers: number;
  seconds: number;
  concurrency: number;
}): Promise<ComputeBenchResult> {
  const pure = pureDecisions(opts.hosts, Math.min(opts.seconds, 3));
  const claimed = await placementsWithClaims(opts.hosts, 2000);

  const startedAt = performance.now();
  const nubes = await startNubes({
    args: ['--virt-driver', 'fake', '--fake-hosts', String(opts.hosts)],
    env: {
      ...AS_USERS_RUN,
      NUBES_LOG_LEVEL: 'warn',
      NUBES_FAKE_VCPUS: '64',
      NUBES_FAKE_MEMORY_MB: '65536',
    },
  });
  const upSeconds = (performance.now() - startedAt) / 1000;
  try {
    const password = readFileSync(join(nubes.dataDir, 'admin-password'), 'utf8').trim();
    const login = await json(`${nubes.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
    const token = login.headers.get('x-subject-token')!;
    const projectId = login.body.token.project.id;
    const h = { 'x-auth-token': token, 'content-type': 'application/json' };
    const compute = `${nubes.url}/compute/v2.1`;
    await json(`${compute}/os-quota-sets/${projectId}`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ quota_set: { instances: -1, cores: -1, ram: -1 } }),
    });
    const img = await json(`${nubes.url}/image/v2/images`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ name: 'bench', disk_format: 'raw', container_format: 'bare' }),
    });
    await fetch(`${nubes.url}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(65536),
    });
    const body = (n: number) =>
      JSON.stringify({ server: { name: `bench-${n}`, imageRef: img.body.id, flavorRef: '42' } });

    // Phase 1: creates as fast as `concurrency` clients send them; each server's own create→ACTIVE.
    const sentAt = new Map<string, number>();
    let next = 0;
    const t0 = Date.now();
    const client = async () => {
      while (next < opts.creates) {
        const n = next++;
        const sent = Date.now();
        const r = await json(`${compute}/servers`, { method: 'POST', headers: h, body: body(n) });
        if (r.status !== 202)
          throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
        sentAt.set(r.body.server.id, sent);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, client));
    const accepted = Date.now();
    const launched = new Map<string, number>();
    for (;;) {
      let marker = '';
      let building = 0;
      for (;;) {
        const page = await json(
          `${compute}/servers/detail?limit=1000${marker ? `&marker=${marker}` : ''}`,
          { headers: h },
        );
        for (const s of page.body.servers) {
          if (s.status === 'ACTIVE')
            launched.set(s.id, Date.parse(`${s['OS-SRV-USG:launched_at']}Z`));
          else if (s.status === 'BUILD') building++;
          else throw new Error(`server ${s.id} is ${s.status}: ${JSON.stringify(s.fault)}`);
        }
        if (page.body.servers.length < 1000) break;
        marker = page.body.servers.at(-1).id;
      }
      if (building === 0 && launched.size >= opts.creates) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const lastActive = Math.max(...launched.values());
    const latencies = [...sentAt]
      .map(([id, sent]) => launched.get(id)! - sent)
      .sort((a, b) => a - b);
    const createsPerSecond = opts.creates / ((lastActive - t0) / 1000);
    const acceptedPerSecond = opts.creates / ((accepted - t0) / 1000);

    // Phase 2: fill to `listServers`, then time a 1,000-server page of /servers/detail.
    const filler = async () => {
      while (next < opts.listServers) {
        const n = next++;
        const r = await json(`${compute}/servers`, { method: 'POST', headers: h, body: body(n) });
        if (r.status !== 202) throw new Error(`create answered ${r.status}`);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, filler));
    for (;;) {
      const building = await json(`${compute}/servers?status=BUILD&limit=1`, { headers: h });
      if (building.body.servers.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const pageUrl = `${compute}/servers/detail?limit=1000`;
    const list = await serialLatency({
      url: pageUrl,
      headers: { 'x-auth-token': token },
      seconds: opts.seconds,
    });
    const pageBody = await (await fetch(pageUrl, { headers: { 'x-auth-token': token } })).text();
    const baseline = await startBaselineServer(pageBody);
    let base: { p50: number; n: number };
    try {
      base = await serialLatency({ url: baseline.url, seconds: opts.seconds });
    } finally {
      await baseline.close();
    }
    const rss = rssMiB(nubes.child.pid!);

    const rows: (string | number)[][] = [
      ['measure', 'nubes', 'baseline', 'ratio'],
      [`nubes up with ${opts.hosts} fake hosts (s)`, upSeconds, '', ''],
      [
        `server creates/s to ACTIVE (${opts.creates}, ${opts.concurrency} clients)`,
        createsPerSecond,
        '',
        '',
      ],
      ['  creates accepted/s (202)', acceptedPerSecond, '', ''],
      ['  create→ACTIVE p50 (ms)', percentile(latencies, 0.5), '', ''],
      ['  create→ACTIVE p99 (ms)', percentile(latencies, 0.99), '', ''],
      [`scheduler decisions/s, ${opts.hosts} hosts (pure)`, pure, '', ''],
      [`scheduler placements/s with claims (SQLite)`, claimed, '', ''],
      [
        `/servers/detail page of 1000 of ${opts.listServers} p50 (ms)`,
        list.p50,
        base.p50,
        list.p50 / base.p50,
      ],
      [`RSS with ${opts.hosts} hosts, ${opts.listServers} servers (MiB)`, rss, '', ''],
    ];
    return {
      rows,
      summary: {
        hosts: opts.hosts,
        createsPerSecond,
        acceptedPerSecond,
        createToActiveP50: percentile(latencies, 0.5),
        createToActiveP99: percentile(latencies, 0.99),
        schedulerDecisionsPerSecond: pure,
        placementsWithClaimsPerSecond: claimed,
        listP50Ms: list.p50,
        listBaselineP50Ms: base.p50,
        rssMiB: rss,
        upSeconds,
      },
    };
  } finally {
    await nubes.stop();
    removeDir(nubes.dataDir);
  }
}

export function printCompute(r: ComputeBenchResult): string {
  return `${table(r.rows)}\n`;
}
