// The agent of one hypervisor host: serves `compute.<host>` on the bus, reports its host's
// inventory to the conductor (again whenever the conductor no longer knows it), heartbeats so the
// cloud sees the host up, runs instance work through the virt driver (instance-work.ts), and once
// registered reconciles what the hypervisor has with what the cloud expects. Power changes nobody
// asked for (the driver's lifecycle events) go to the conductor at once, and every power state
// again periodically, so the cloud's view follows the guests. It never touches the database.
import type { Bus, Subscription } from '../../platform/bus/bus.ts';
import type { Logger } from '../../platform/log.ts';
import type { VirtDriver } from './virt/driver.ts';
import { serveRpc } from '../../platform/bus/rpc.ts';
import { createInstanceWorker, NO_IMAGE_TRANSFER, type ImageTransfer } from './instance-work.ts';
import {
  AGENT_PROTOCOL,
  agentTarget,
  announceAgentUp,
  conductorClient,
  type PowerReport,
} from './protocol.ts';

export interface HostAgent {
  readonly host: string;
  readonly driver: VirtDriver;
  /** Resolves once the conductor has recorded this host (tests and start-up wait on it). */
  readonly registered: Promise<void>;
  stop(): Promise<void>;
}

export interface HostAgentDeps {
  readonly bus: Bus;
  readonly host: string;
  readonly log: Logger;
  readonly version: string;
  readonly driver: VirtDriver;
  /** How often the agent says it is alive (default 10 s; Nova's report_interval). */
  readonly heartbeatMs?: number;
  /** How often every instance's power state is sent to the cloud (default 60 s; events go at once). */
  readonly powerSyncMs?: number;
  /** Where this host's console proxy is reached, or why it has none (default: none). */
  readonly console?: { readonly url: string | null; readonly note: string | null };
  /** How the driver reads images and uploads snapshots (default: none). */
  readonly images?: ImageTransfer;
  /** This host's allocation ratios, when its configuration sets them (else the cloud's defaults). */
  readonly ratios?: {
    readonly cpu: number | null;
    readonly ram: number | null;
    readonly disk: number | null;
  };
}

export async function startHostAgent(deps: HostAgentDeps): Promise<HostAgent> {
  const { bus, host, log, version, driver } = deps;
  const startedAt = Date.now();
  let stopped = false;
  const worker = createInstanceWorker({
    bus,
    host,
    driver,
    images: deps.images ?? NO_IMAGE_TRANSFER,
    log,
  });
  let server: Subscription | undefined;
  // Served only once the host is registered and reconciled: work queued for the host meanwhile
  // waits on the bus, so reconcile never races a build that is starting.
  const serve = () =>
    serveRpc(bus, agentTarget(host), AGENT_PROTOCOL, {
      ping: () => ({ host, version, uptime_ms: Date.now() - startedAt }),
      // Answered later by an instance.result cast to the conductor. Not awaited, so work on
      // different instances runs side by side.
      'instance.work': (w) => {
        void worker.submit(w);
      },
      'instance.console': async (r) => ({
        output: await driver.consoleOutput(r.uuid, r.max_bytes),
      }),
    });
  const conductor = conductorClient(bus);

  async function report(): Promise<void> {
    const r = await driver.hostResources();
    await conductor.call('host.report', {
      host,
      hypervisor_type: r.hypervisorType,
      hypervisor_version: r.hypervisorVersion,
      cpu_info: r.cpuInfo,
      host_ip: null,
      vcpus: r.vcpus,
      memory_mb: r.memoryMb,
      disk_gb: r.diskGb,
      agent_version: version,
      console_url: deps.console?.url ?? null,
      console_note: deps.console?.note ?? 'the agent runs no console proxy',
      cpu_allocation_ratio: deps.ratios?.cpu ?? null,
      ram_allocation_ratio: deps.ratios?.ram ?? null,
      disk_allocation_ratio: deps.ratios?.disk ?? null,
    });
  }

  /** Tells the conductor what the hypervisor has; destroys what the cloud no longer knows, forgets what it has elsewhere. */
  async function reconcile(): Promise<void> {
    const present = await driver.listInstances();
    const r = await conductor.call('host.reconcile', {
      host,
      instances: present.map((i) => ({ uuid: i.uuid, power_state: i.powerState })),
    });
    for (const uuid of r.destroy) {
      log.warn({ host, instance: uuid }, 'destroying an instance the cloud does not know');
      await driver.destroy(uuid);
    }
    for (const uuid of r.forget) {
      log.warn(
        { host, instance: uuid },
        'removing a copy of an instance the cloud has on another host',
      );
      await driver.forget(uuid);
    }
  }

  /** Tells the cloud these power states; powers off what it says should be off. */
  async function reportPower(reports: readonly PowerReport[]): Promise<void> {
    // Work under way reports the power state with its result; a report now would race it.
    const quiet = reports.filter((r) => !worker.busy(r.uuid));
    if (quiet.length === 0) return;
    const r = await conductor.call('host.power', { host, instances: quiet });
    for (const uuid of r.stop) {
      log.warn(
        { host, instance: uuid },
        'instance runs but the cloud has it stopped; powering it off',
      );
      void worker.local(uuid, 'powering off an instance the cloud has stopped', () =>
        driver.powerOff(uuid, 0),
      );
    }
  }
  const syncPower = async () =>
    reportPower(
      (await driver.listInstances()).map((i) => ({
        uuid: i.uuid,
        power_state: i.powerState,
        fault: null,
      })),
    );
  let unwatch: (() => void) | undefined;
  let powerSync: NodeJS.Timeout | undefined;

  // Report until an api process answers: agents may start before any api does.
  let retry: NodeJS.Timeout | undefined;
  const registered = new Promise<void>((resolve) => {
    const attempt = () => {
      if (stopped) return;
      report().then(
        async () => {
          log.info({ host }, 'host registered');
          await reconcile().catch((err: unknown) =>
            log.error({ host, err }, 'reconciling instances with the cloud failed'),
          );
          if (stopped) return;
          server = await serve();
          unwatch = driver.watch((e) => {
            log.warn(
              { host, instance: e.uuid, power: e.powerState, fault: e.fault },
              'instance power changed on its own',
            );
            reportPower([{ uuid: e.uuid, power_state: e.powerState, fault: e.fault }]).catch(
              (err: unknown) => log.error({ host, err }, 'reporting a power change failed'),
            );
          });
          powerSync = setInterval(() => {
            syncPower().catch((err: unknown) => log.warn({ host, err }, 'power sync failed'));
          }, deps.powerSyncMs ?? 60_000);
          powerSync.unref();
          await announceAgentUp(bus, { host, version });
          log.info({ host }, 'host agent serving');
          resolve();
        },
        (err: unknown) => {
          log.warn({ host, err }, 'host report failed; retrying in 5 s');
          retry = setTimeout(attempt, 5000);
        },
      );
    };
    attempt();
  });

  const beat = setInterval(() => {
    conductor
      .call('host.heartbeat', { host })
      // Forgotten by the cloud (an admin deleted the service): register again. Forgotten or counted
      // down (servers may have been deleted without us meanwhile): reconcile.
      .then(async (r) => {
        if (!r.known) await report();
        if (!r.known || r.reconcile) await reconcile();
      })
      .catch((err: unknown) => log.warn({ host, err }, 'heartbeat failed'));
  }, deps.heartbeatMs ?? 10_000);
  beat.unref();

  return {
    host,
    driver,
    registered,
    async stop() {
      stopped = true;
      clearInterval(beat);
      clearInterval(powerSync);
      clearTimeout(retry);
      unwatch?.();
      await server?.close();
      await worker.idle();
      worker.close();
      log.info({ host }, 'host agent stopped');
    },
  };
}
