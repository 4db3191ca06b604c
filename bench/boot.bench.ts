// The boot benchmark: a real `nubes up` (qemu driver, nubes-tiny, m1.nano) driven over HTTP. For one
// boot at a time and for BENCH_BOOTS at once: POST /servers → ACTIVE (GET /servers/{id} every 20 ms),
// where that time goes (file times in the instance directory), and POST → the guest's
// `nubes-tiny: userspace` (its serial.log read from the host every 50 ms).
// Baseline in the same run: the argv our driver used (vm.json through renderArgv), started by hand
// with spawn on a fresh overlay of the same cached image. Also the agent's RSS per running guest.
// Leaves no server and no QEMU behind, also on failure.
import { randomUUID } from 'node:crypto';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { parse } from 'yaml';
import { startNubes, removeDir, type NubesProcess } from '../test/support/nubes-process.ts';
import { AS_USERS_RUN, rssMiB, table } from './lib.ts';
import {
  BOOT_LIMIT_MS,
  baselineBoots,
  disturbanceMonitor,
  killBaseline,
  now,
  qemuProcesses,
  sleep,
  stats,
  takeTemplate,
  waitMarker,
  type Stats,
} from './boot-qemu.ts';

export interface BootBenchResult {
  readonly rows: (string | number)[][];
  readonly summary: Record<string, unknown>;
  readonly notes: string[];
}

class Api {
  readonly #url: string;
  readonly #token: string;
  constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(`${this.#url}${path}`, {
      method,
      headers: { 'x-auth-token': this.#token, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }
  static async login(nubes: NubesProcess): Promise<{ api: Api; projectId: string }> {
    // The admin's password as `nubes up` wrote it for users (clouds.yaml), or as it was configured.
    const yaml = join(nubes.dataDir, 'clouds.yaml');
    const password = existsSync(yaml)
      ? parse(readFileSync(yaml, 'utf8')).clouds.nubes.auth.password
      : process.env['NUBES_ADMIN_PASSWORD'];
    const r = await fetch(`${nubes.url}/identity/v3/auth/tokens`, {
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
    if (r.status !== 201) throw new Error(`admin login answered ${r.status}: ${await r.text()}`);
    const token = r.headers.get('x-subject-token')!;
    return {
      api: new Api(nubes.url, token),
      projectId: ((await r.json()) as any).token.project.id,
    };
  }
}

interface NubesBoots {
  readonly ids: string[];
  readonly post: number[];
  readonly active: number[];
  readonly userspace: number[];
  readonly stages: Record<Stage, number[]>;
  /** The slowest answer to the polling GETs of each server: an API that stalls shows here. */
  readonly slowestPoll: number[];
}

/** Where the time to ACTIVE goes, read from the instance directory's file times (ms after the POST). */
const STAGES = {
  'agent began (instance dir made)': ['', 'birth'],
  'overlay made (disk.qcow2)': ['disk.qcow2', 'birth'],
  'config drive written (config.iso)': ['config.iso', 'mtime'],
  'definition saved (vm.json)': ['vm.json', 'mtime'],
  'QEMU started (qemu.pid)': ['qemu.pid', 'birth'],
} as const;
type Stage = keyof typeof STAGES;
const QEMU_STARTED: Stage = 'QEMU started (qemu.pid)';
const emptyStages = () =>
  Object.fromEntries(Object.keys(STAGES).map((k) => [k, [] as number[]])) as unknown as Record<
    Stage,
    number[]
  >;

function stageTimes(dir: string, t0: number): Record<Stage, number> {
  const epoch0 = performance.timeOrigin + t0;
  const out = {} as Record<Stage, number>;
  for (const [stage, [file, which]] of Object.entries(STAGES) as [
    Stage,
    readonly [string, 'birth' | 'mtime'],
  ][]) {
    const st = statSync(join(dir, file));
    out[stage] = (which === 'birth' ? st.birthtimeMs : st.mtimeMs) - epoch0;
  }
  return out;
}

/** Creates `n` servers at once and times each from its own POST to ACTIVE and to the guest's first marker. */
async function bootServers(
  api: Api,
  dataDir: string,
  n: number,
  imageRef: string,
  flavorRef: string,
  tag: string,
  pollMs: number,
  onAllActive = () => {},
): Promise<NubesBoots> {
  const ids: string[] = [];
  let activeCount = 0;
  const one = async (i: number) => {
    const t0 = now();
    const r = await api.call('POST', '/compute/v2.1/servers', {
      server: { name: `${tag}-${i}`, imageRef, flavorRef },
    });
    const t202 = now() - t0;
    if (r.status !== 202) throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
    const id: string = r.body.server.id;
    ids.push(id);
    const deadline = t0 + BOOT_LIMIT_MS;
    const marker = waitMarker(join(dataDir, 'compute', 'instances', id, 'serial.log'), deadline);
    let active = NaN;
    let stages: Record<Stage, number>;
    let slowestPoll = 0;
    for (;;) {
      const tGet = now();
      const s = await api.call('GET', `/compute/v2.1/servers/${id}`);
      slowestPoll = Math.max(slowestPoll, now() - tGet);
      if (s.body?.server?.status === 'ACTIVE') {
        active = now() - t0;
        stages = stageTimes(join(dataDir, 'compute', 'instances', id), t0);
        if (++activeCount === n) onAllActive();
        break;
      }
      if (s.body?.server?.status === 'ERROR')
        throw new Error(`server ${id} went to ERROR: ${JSON.stringify(s.body.server.fault)}`);
      if (now() > deadline)
        throw new Error(
          `server ${id} not ACTIVE within ${BOOT_LIMIT_MS / 1000} s (${s.status} ${JSON.stringify(s.body).slice(0, 300)})`,
        );
      await sleep(pollMs);
    }
    return { t202, active, stages, slowestPoll, userspace: (await marker) - t0 };
  };
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => one(i)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw Object.assign(failed.reason as Error, { ids });
  const ok = results.map(
    (r) =>
      (
        r as PromiseFulfilledResult<{
          t202: number;
          active: number;
          userspace: number;
          slowestPoll: number;
          stages: Record<Stage, number>;
        }>
      ).value,
  );
  const stages = emptyStages();
  for (const r of ok) for (const k of Object.keys(STAGES) as Stage[]) stages[k].push(r.stages[k]);
  return {
    ids,
    post: ok.map((r) => r.t202),
    active: ok.map((r) => r.active),
    userspace: ok.map((r) => r.userspace),
    stages,
    slowestPoll: ok.map((r) => r.slowestPoll),
  };
}

/** Deletes the servers and waits until each answers 404. */
async function deleteServers(api: Api, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => api.call('DELETE', `/compute/v2.1/servers/${id}`)));
  const deadline = now() + 120_000;
  for (const id of ids) {
    while ((await api.call('GET', `/compute/v2.1/servers/${id}`)).status !== 404) {
      if (now() > deadline) throw new Error(`server ${id} still exists 120 s after its DELETE`);
      await sleep(100);
    }
  }
}

async function deleteAllServers(api: Api): Promise<void> {
  const list = await api.call('GET', '/compute/v2.1/servers?all_tenants=1');
  await deleteServers(
    api,
    (list.body?.servers ?? []).map((s: { id: string }) => s.id),
  );
}

/** What the baseline needs from a guest our driver booted: its definition, its base image and overlay size, its config drive. */
/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on: utime is the 14th, stime the 15th
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Nanoseconds the process's main thread (its event loop) has been runnable but waiting for a CPU. */
const runqueueWaitNs = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);

/** Boots, with nubes' CPU use from the first POST until every server is ACTIVE (in cores) and the
 * share of that time its event loop was ready to run but had no CPU (the guests' vCPUs had them). */
async function bootMeasured(
  pid: number,
  boot: (onAllActive: () => void) => Promise<NubesBoots>,
): Promise<NubesBoots & { cpuCores: number; cpuWaitShare: number }> {
  const c0 = cpuSeconds(pid);
  const w0 = runqueueWaitNs(pid);
  const t0 = now();
  let cpuCores = NaN;
  let cpuWaitShare = NaN;
  const b = await boot(() => {
    const seconds = (now() - t0) / 1000;
    cpuCores = (cpuSeconds(pid) - c0) / seconds;
    cpuWaitShare = (runqueueWaitNs(pid) - w0) / 1e9 / seconds;
  });
  return { ...b, cpuCores, cpuWaitShare };
}

async function rssSamples(pid: number, count = 10): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < count; i++) {
    xs.push(rssMiB(pid));
    await sleep(500);
  }
  return stats(xs).p50;
}

/** What nubes logged at warn level or above during the run, counted by message (the log goes with the data dir). */
function logWarnings(file: string): string[] {
  const counts = new Map<string, number>();
  for (const line of existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []) {
    try {
      const e = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((e.level ?? 0) >= 40) {
        const k = `${e.msg ?? ''}${e.err?.message ? `: ${e.err.message.slice(0, 160)}` : ''}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    } catch {
      /* not a JSON line */
    }
  }
  return [...counts].map(([msg, n]) => `nubes.log: ${n}× "${msg}"`);
}

export async function runBootBench(opts: {
  boots: number;
  singleRounds: number;
  pollMs: number;
}): Promise<BootBenchResult> {
  const dataDir = join(
    process.env['TMPDIR'] ?? '/tmp',
    `nubes-bench-boot-${randomUUID().slice(0, 8)}`,
  );
  // The host must hold `boots` m1.nano (1 vCPU each) at once: the ratio its agent offers is set to make room.
  const ratio = Math.max(4, Math.ceil(opts.boots / cpus().length));
  const env = {
    ...AS_USERS_RUN,
    NUBES_TINY_IMAGE: 'on',
    NUBES_LOG_LEVEL: 'warn',
    NUBES_CPU_ALLOCATION_RATIO: String(ratio),
  };
  const monitor = disturbanceMonitor(dataDir);
  const notes: string[] = [];
  const baselineDirs: string[] = [];
  let nubes: NubesProcess | undefined;
  let api: Api | undefined;
  try {
    if (ratio > 4)
      notes.push(
        `cpu_allocation_ratio ${ratio}: ${cpus().length} host CPUs hold the ${opts.boots} m1.nano guests booted at once`,
      );
    nubes = await startNubes({ dataDir, env, readyWhen: /is up/ });
    if (!/virt driver qemu/.test(nubes.output()))
      throw new Error(`nubes up did not choose the qemu driver:\n${nubes.output()}`);
    const login = await Api.login(nubes);
    api = login.api;
    const cloud = login.api;
    await cloud.call('PUT', `/compute/v2.1/os-quota-sets/${login.projectId}`, {
      quota_set: { instances: -1, cores: -1, ram: -1 },
    });
    const image = (await cloud.call('GET', '/image/v2/images?name=nubes-tiny')).body.images[0];
    if (!image) throw new Error(`nubes-tiny is not registered:\n${nubes.output()}`);
    const flavor = (await cloud.call('GET', '/compute/v2.1/flavors/detail')).body.flavors.find(
      (f: { name: string }) => f.name === 'm1.nano',
    );
    if (!flavor) throw new Error('flavor m1.nano does not exist');
    const pid = nubes.child.pid!;
    const rssIdleStart = await rssSamples(pid);

    // Cold: the first boot also fetches the image into the host's cache. Its vm.json is the baseline's template.
    monitor.phase('nubes cold');
    const cold = await bootServers(cloud, dataDir, 1, image.id, flavor.id, 'cold', opts.pollMs);
    const template = takeTemplate(dataDir, cold.ids[0]!, join(dataDir, 'bench-baseline'));
    await deleteServers(cloud, cold.ids);

    // Single boots, ours and the baseline's in turn, so a disturbance from outside hits both alike.
    const baseRoot = join(dataDir, 'bench-baseline');
    const single: NubesBoots = {
      ids: [],
      post: [],
      active: [],
      userspace: [],
      stages: emptyStages(),
      slowestPoll: [],
    };
    const singleCpu: number[] = [];
    const singleWait: number[] = [];
    const baseSingle = {
      pidfile: [] as number[],
      daemonized: [] as number[],
      userspace: [] as number[],
    };
    for (let r = 0; r < opts.singleRounds; r++) {
      monitor.phase('nubes 1');
      const b = await bootMeasured(pid, (done) =>
        bootServers(cloud, dataDir, 1, image.id, flavor.id, `one${r}`, opts.pollMs, done),
      );
      singleCpu.push(b.cpuCores);
      singleWait.push(b.cpuWaitShare);
      single.post.push(...b.post);
      single.active.push(...b.active);
      single.userspace.push(...b.userspace);
      single.slowestPoll.push(...b.slowestPoll);
      for (const k of Object.keys(STAGES) as Stage[]) single.stages[k].push(...b.stages[k]);
      await deleteServers(cloud, b.ids);
      monitor.phase('baseline 1');
      const q = await baselineBoots(template, baseRoot, 1, baselineDirs);
      await killBaseline(baselineDirs);
      baseSingle.pidfile.push(...q.pidfile);
      baseSingle.daemonized.push(...q.daemonized);
      baseSingle.userspace.push(...q.userspace);
    }

    const rss0 = await rssSamples(pid);
    monitor.phase(`nubes ${opts.boots}`);
    const many = await bootMeasured(pid, (done) =>
      bootServers(cloud, dataDir, opts.boots, image.id, flavor.id, 'many', opts.pollMs, done),
    );
    const rssN = await rssSamples(pid);
    const qemuRss = many.ids.map((id) =>
      rssMiB(
        Number(readFileSync(join(dataDir, 'compute', 'instances', id, 'qemu.pid'), 'utf8').trim()),
      ),
    );
    await deleteServers(cloud, many.ids);

    monitor.phase(`baseline ${opts.boots}`);
    const baseMany = await baselineBoots(template, baseRoot, opts.boots, baselineDirs);
    await killBaseline(baselineDirs);
    monitor.phase('end');

    const s = {
      cold: { active: stats(cold.active), userspace: stats(cold.userspace) },
      single: {
        post: stats(single.post),
        active: stats(single.active),
        userspace: stats(single.userspace),
      },
      many: {
        post: stats(many.post),
        active: stats(many.active),
        userspace: stats(many.userspace),
      },
      baseSingle: {
        pidfile: stats(baseSingle.pidfile),
        daemonized: stats(baseSingle.daemonized),
        userspace: stats(baseSingle.userspace),
      },
      baseMany: {
        pidfile: stats(baseMany.pidfile),
        daemonized: stats(baseMany.daemonized),
        userspace: stats(baseMany.userspace),
      },
    };
    const perInstance = (rssN - rss0) / opts.boots;
    const qemuAvg = qemuRss.reduce((a, b) => a + b, 0) / qemuRss.length;
    const ok = (good: boolean) => (good ? 'met' : 'MISSED');
    const row = (label: string, st: Stats, aim = '', verdict = ''): (string | number)[] => [
      label,
      st.n,
      st.p50,
      st.p99,
      st.max,
      aim,
      verdict,
    ];
    const info = (label: string, a: Stats, b: Stats): (string | number)[] => [
      label,
      '',
      a.p50 - b.p50,
      a.p99 - b.p99,
      a.max - b.max,
      '',
      '',
    ];
    const diff = (label: string, a: Stats, b: Stats): (string | number)[] => [
      label,
      '',
      a.p50 - b.p50,
      a.p99 - b.p99,
      a.max - b.max,
      '< 300 ms',
      ok(a.p50 - b.p50 < 300),
    ];
    const B = opts.boots;
    const stageRows = (b: NubesBoots) =>
      (Object.keys(STAGES) as Stage[]).map((k) => row(`  POST→${k}`, stats(b.stages[k])));
    type Timed = { post: Stats; active: Stats; userspace: Stats };
    type BaseTimed = { pidfile: Stats; daemonized: Stats; userspace: Stats };
    /** One phase (1 boot, or B at once): where its time went, then the baseline and the differences. */
    const phaseRows = (
      label: string,
      b: NubesBoots,
      t: Timed,
      base: BaseTimed,
    ): (string | number)[][] => [
      row(`${label}: POST→202`, t.post),
      ...stageRows(b),
      row(`${label}: POST→ACTIVE`, t.active, '< 1000', ok(t.active.p99 < 1000)),
      row('  slowest GET /servers/{id} while polling', stats(b.slowestPoll)),
      row(`${label}: POST→userspace`, t.userspace),
      row('  baseline: spawn→QEMU started (qemu.pid)', base.pidfile),
      row('  baseline: spawn→daemonized', base.daemonized),
      row('  baseline: spawn→userspace', base.userspace),
      diff('  control-plane overhead to userspace (nubes − baseline)', t.userspace, base.userspace),
      info(
        '  control-plane overhead to QEMU start (nubes − baseline)',
        stats(b.stages[QEMU_STARTED]),
        base.pidfile,
      ),
      [
        '  ratio nubes / baseline to userspace',
        '',
        t.userspace.p50 / base.userspace.p50,
        t.userspace.p99 / base.userspace.p99,
        '',
        '',
        '',
      ],
    ];
    const rows: (string | number)[][] = [
      ['measure (ms unless said)', 'n', 'p50', 'p99', 'max', 'aim', ''],
      row('cold boot (image into host cache): POST→ACTIVE', s.cold.active),
      row('cold boot: POST→userspace', s.cold.userspace),
      ...phaseRows('1 boot', single, s.single, s.baseSingle),
      ...phaseRows(`${B} at once`, many, s.many, s.baseMany),
      [
        'nubes CPU from POST until ACTIVE, 1 boot (cores, median)',
        '',
        stats(singleCpu).p50,
        '',
        '',
        '',
        '',
      ],
      [`nubes CPU from the POSTs until all ${B} ACTIVE (cores)`, '', many.cpuCores, '', '', '', ''],
      [
        'nubes event loop waiting for a CPU until ACTIVE, 1 boot (share, median)',
        '',
        stats(singleWait).p50,
        '',
        '',
        '',
        '',
      ],
      [
        `nubes event loop waiting for a CPU until all ${B} ACTIVE (share)`,
        '',
        many.cpuWaitShare,
        '',
        '',
        '',
        '',
      ],
      ['nubes RSS at start, idle (MiB)', '', rssIdleStart, '', '', '', ''],
      ['nubes RSS with 0 instances, after the 1-boot phase (MiB)', '', rss0, '', '', '', ''],
      [`nubes RSS with ${B} running (MiB)`, '', rssN, '', '', '', ''],
      ['  nubes RSS per running instance (MiB)', '', perInstance, '', '', '', ''],
      [`QEMU RSS per guest, average of ${B} (MiB)`, '', qemuAvg, '', Math.max(...qemuRss), '', ''],
    ];
    const accel = template.def.accel;
    notes.push(
      `accelerator ${accel}; guest ${flavor.name} (${flavor.vcpus} vCPU, ${flavor.ram} MB); 1-boot rows: ${opts.singleRounds} rounds of one nubes boot then one baseline boot, each removed before the next; ACTIVE polled every ${opts.pollMs} ms per server; nubes RSS is the median of 10 readings over 5 s`,
    );
    for (const [phase, d] of Object.entries(monitor.seen)) {
      if (d.foreignQemuMax > 0)
        notes.push(
          `DISTURBED: up to ${d.foreignQemuMax} QEMU process(es) not started by this bench ran during "${phase}" (max load average ${d.load1Max.toFixed(1)}): ${d.foreign.join(', ')}`,
        );
    }
    return {
      rows,
      notes,
      summary: {
        accel,
        boots: B,
        singleRounds: opts.singleRounds,
        pollMs: opts.pollMs,
        stats: s,
        rssIdleStartMiB: rssIdleStart,
        rss0MiB: rss0,
        rssNMiB: rssN,
        rssPerInstanceMiB: perInstance,
        qemuRssAvgMiB: qemuAvg,
        qemuRssMiB: qemuRss,
        nubesCpuCores: { single: singleCpu, many: many.cpuCores },
        nubesCpuWaitShare: { single: singleWait, many: many.cpuWaitShare },
        overheadMs: {
          single: {
            p50: s.single.userspace.p50 - s.baseSingle.userspace.p50,
            p99: s.single.userspace.p99 - s.baseSingle.userspace.p99,
          },
          many: {
            p50: s.many.userspace.p50 - s.baseMany.userspace.p50,
            p99: s.many.userspace.p99 - s.baseMany.userspace.p99,
          },
        },
        raw: { cold, single, many: { ...many, ids: undefined }, baseSingle, baseMany },
        disturbance: monitor.seen,
      },
    };
  } finally {
    monitor.stop();
    await killBaseline(baselineDirs).catch(() => undefined);
    if (api)
      await deleteAllServers(api).catch((e) =>
        process.stderr.write(`boot bench: deleting servers failed: ${(e as Error).message}\n`),
      );
    if (nubes)
      await nubes
        .stop()
        .catch((e) => process.stderr.write(`boot bench: ${(e as Error).message}\n`));
    // Guests outlive the cloud by design: anything of ours still running is killed, and said.
    const left = qemuProcesses().filter((p) => p.cmdline.includes(dataDir));
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (left.length > 0)
      process.stderr.write(
        `boot bench: ${left.length} QEMU process(es) of the bench were left running and were killed: ${left.map((p) => p.pid).join(' ')}\n`,
      );
    await sleep(left.length > 0 ? 500 : 0);
    notes.push(...logWarnings(join(dataDir, 'nubes.log')));
    removeDir(dataDir);
  }
}

export function printBoot(r: BootBenchResult): string {
  return `${table(r.rows)}\n${r.notes.map((n) => `note: ${n}\n`).join('')}`;
}
