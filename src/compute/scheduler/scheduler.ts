// The scheduler as a service: placements for instances waiting in 'scheduling', decided from a
// snapshot of all hosts read at most once a second (a thousand-host cloud does not pay a full read
// per instance), each made to stick by an atomic claim against the host's generation. A claim that
// loses a race (another replica, a stale snapshot) re-reads that host and decides again.
import type { DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import { claim, fits, hostUsage, releaseAllocations } from '../store/claims.ts';
import { schedulableHosts, type SchedulableHost } from '../store/host-states.ts';
import { memberHosts, getGroup } from '../store/server-groups.ts';
import { selectHosts, type SchedulerConfig } from './host-selection.ts';
import { flavorDiskGb, type RequestSpec } from './host-state.ts';
import type { Instance } from '../model.ts';

export type Placement =
  | { readonly ok: true; readonly host: string; readonly availabilityZone: string }
  | { readonly ok: false; readonly reason: string };

export interface SchedulerDeps {
  readonly db: DbHandle;
  readonly config: SchedulerConfig;
  readonly downAfterMs: number;
  readonly log: Logger;
  readonly now?: () => number;
  /** Instances decided from one snapshot (default 64). */
  readonly batchSize?: number;
  /** How long a snapshot of all hosts is reused (default 1 s). A stale one costs at most a lost
   * claim (claims re-check the host in the database) and is refreshed host by host on a loss. */
  readonly snapshotMs?: number;
}

/** How often one instance's claim may lose a race before it gives up (each loss re-reads the host). */
const CLAIM_ATTEMPTS = 8;

export function createScheduler(deps: SchedulerDeps) {
  const { db, config, log } = deps;
  const now = deps.now ?? Date.now;
  const batchSize = deps.batchSize ?? 64;
  const queue: { instance: Instance; resolve: (p: Placement) => void }[] = [];
  let running = false;
  let decisions = 0;
  let snapshot: { at: number; hosts: Map<string, SchedulableHost> } | undefined;

  /** All hosts, from the database at most every snapshotMs (or now, when `fresh`); our own claims are applied to it as they are made. */
  async function hostsNow(fresh = false): Promise<Map<string, SchedulableHost>> {
    if (fresh || !snapshot || now() - snapshot.at > (deps.snapshotMs ?? 1000)) {
      snapshot = {
        at: now(),
        hosts: new Map(
          (await schedulableHosts(db, { now: now(), downAfterMs: deps.downAfterMs })).map((h) => [
            h.host,
            h,
          ]),
        ),
      };
    }
    return snapshot.hosts;
  }

  async function requestSpec(i: Instance): Promise<RequestSpec> {
    const r = i.request;
    let group: RequestSpec['group'] = null;
    if (r.groupId) {
      const g = await getGroup(db, r.groupId);
      if (g)
        group = {
          policy: g.policy,
          memberHosts: await memberHosts(db, g.id, i.id),
          ...(g.rules.max_server_per_host !== undefined
            ? { maxServerPerHost: g.rules.max_server_per_host }
            : {}),
        };
    }
    return {
      flavor: i.flavor,
      imageProperties: r.imageProperties,
      availabilityZone: r.availabilityZone,
      group,
      sameHost: r.sameHost.length > 0 ? r.sameHost : null,
      differentHost: r.differentHost.length > 0 ? r.differentHost : null,
      ignoreHosts: r.tried,
    };
  }

  function noValidHost(trail: readonly { filter: string; left: number }[], total: number): string {
    const emptied = trail.find((t) => t.left === 0);
    return `No valid host was found. ${emptied ? `There are not enough hosts available (${total} hosts; none left after ${emptied.filter}).` : 'There are not enough hosts available.'}`;
  }

  /**
   * Nova's late affinity check: after the claim, the group's members as claimed now (another
   * replica may have placed one meanwhile). A hard policy the claim breaks gives the claim back.
   */
  async function keepsGroupPolicy(i: Instance, spec: RequestSpec, host: string): Promise<boolean> {
    const g = spec.group;
    if (!g || (g.policy !== 'affinity' && g.policy !== 'anti-affinity')) return true;
    const now = await memberHosts(db, i.request.groupId!, i.id);
    const ok =
      g.policy === 'affinity'
        ? now.length === 0 || now.includes(host)
        : now.filter((h) => h === host).length < (g.maxServerPerHost ?? 1);
    if (!ok) await releaseAllocations(db, i.id, host);
    return ok;
  }

  async function place(i: Instance, hosts: Map<string, SchedulableHost>): Promise<Placement> {
    let spec = await requestSpec(i);
    const need = {
      vcpus: i.flavor.vcpus,
      memoryMb: i.flavor.memoryMb,
      diskGb: flavorDiskGb(i.flavor),
    };
    let candidates = [...hosts.values()];
    if (i.request.forcedHost !== null)
      candidates = candidates.filter((h) => h.host === i.request.forcedHost);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const sel = selectHosts(candidates, spec, config, 1);
      decisions++;
      const best = sel.hosts[0];
      if (best === undefined) return { ok: false, reason: noValidHost(sel.trail, hosts.size) };
      const h = hosts.get(best)!;
      if (await claim(db, { instanceId: i.id, host: best, ...need }, h.generation)) {
        if (!(await keepsGroupPolicy(i, spec, best))) {
          spec = await requestSpec(i);
          continue;
        }
        const next = {
          ...h,
          generation: h.generation + 1,
          used: {
            vcpus: h.used.vcpus + need.vcpus,
            memoryMb: h.used.memoryMb + need.memoryMb,
            diskGb: h.used.diskGb + need.diskGb,
          },
        };
        hosts.set(best, next);
        return { ok: true, host: best, availabilityZone: h.availabilityZone };
      }
      // Another scheduler moved this host on: take its fresh numbers and decide again.
      const [fresh] = await schedulableHosts(db, {
        now: now(),
        downAfterMs: deps.downAfterMs,
        hosts: [best],
      });
      if (fresh) hosts.set(best, fresh);
      else hosts.delete(best);
      candidates = candidates
        .map((c) => (c.host === best ? fresh : c))
        .filter((c): c is SchedulableHost => c !== undefined);
    }
    return {
      ok: false,
      reason: 'No valid host was found. Every claim lost a race with another scheduler; try again.',
    };
  }

  /** No host in a snapshot that may be stale (a zone moved, a host came, room was freed): a refusal
   * is only ever made on a snapshot read for this very decision. */
  async function placeFresh(i: Instance): Promise<Placement> {
    const before = snapshot;
    const hosts = await hostsNow();
    const p = await place(i, hosts);
    if (p.ok || snapshot !== before) return p;
    return place(i, await hostsNow(true));
  }

  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, batchSize);
        for (const b of batch) {
          b.resolve(
            await placeFresh(b.instance).catch((err: unknown): Placement => {
              log.error({ err, instance: b.instance.id }, 'placement failed');
              return { ok: false, reason: `Scheduling failed: ${(err as Error).message}` };
            }),
          );
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    /** Decides and claims a host for each instance; never rejects. */
    place(instances: readonly Instance[]): Promise<Placement[]> {
      const done = Promise.all(
        instances.map(
          (instance) => new Promise<Placement>((resolve) => queue.push({ instance, resolve })),
        ),
      );
      void drain();
      return done;
    },
    /**
     * Claims `need` more on one given host (a same-host resize), retrying while other claims move
     * the host's generation; false when it does not fit.
     */
    async claimOn(
      instanceId: string,
      host: string,
      need: { vcpus: number; memoryMb: number; diskGb: number },
    ): Promise<boolean> {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const [u] = await hostUsage(db, [host]);
        if (!u) return false;
        if (!fits(u, need)) return false;
        if (await claim(db, { instanceId, host, ...need }, u.generation)) return true;
      }
      return false;
    },
    /** Scheduler decisions made so far (the benchmark's decisions per second). */
    get decisions() {
      return decisions;
    },
    /** A host's usage now (tests and the over-commit check). */
    usage: (host?: string) => hostUsage(db, host === undefined ? undefined : [host]),
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
