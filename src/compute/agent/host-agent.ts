// The agent of one hypervisor host: serves `compute.<host>` on the bus, reports its host's
// inventory to the conductor (again whenever the conductor no longer knows it), and heartbeats so
// the cloud sees the host up. Instance work plugs in here (issue 5). It never touches the database.
import type { Bus, Subscription } from '../../platform/bus/bus.ts';
import type { Logger } from '../../platform/log.ts';
import type { VirtDriver } from './virt/driver.ts';

export const agentTarget = (host: string) => `compute.${host}`;
const CONDUCTOR = 'compute.conductor';

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
}

export async function startHostAgent(deps: HostAgentDeps): Promise<HostAgent> {
  const { bus, host, log, version, driver } = deps;
  const startedAt = Date.now();
  let stopped = false;
  const server: Subscription = await bus.serve(agentTarget(host), async (method) => {
    switch (method) {
      case 'ping': return { host, version, uptime_ms: Date.now() - startedAt };
      default: throw new Error(`agent ${host} does not handle ${method}`);
    }
  });

  async function report(): Promise<void> {
    const r = await driver.hostResources();
    await bus.call(CONDUCTOR, 'host.report', {
      host, hypervisor_type: r.hypervisorType, hypervisor_version: r.hypervisorVersion, cpu_info: r.cpuInfo, host_ip: null,
      vcpus: r.vcpus, memory_mb: r.memoryMb, disk_gb: r.diskGb, agent_version: version,
    }, { timeoutMs: 10_000 });
  }

  // Report until an api process answers: agents may start before any api does.
  let retry: NodeJS.Timeout | undefined;
  const registered = new Promise<void>((resolve) => {
    const attempt = () => {
      if (stopped) return;
      report().then(() => { log.info({ host }, 'host registered'); resolve(); }, (err: unknown) => {
        log.warn({ host, err }, 'host report failed; retrying in 5 s');
        retry = setTimeout(attempt, 5000);
      });
    };
    attempt();
  });

  const beat = setInterval(() => {
    bus.call<{ known: boolean }>(CONDUCTOR, 'host.heartbeat', { host }, { timeoutMs: 10_000 })
      .then((r) => { if (!r.known) return report(); return undefined; })
      .catch((err: unknown) => log.warn({ host, err }, 'heartbeat failed'));
  }, deps.heartbeatMs ?? 10_000);
  beat.unref();

  await bus.notify('compute', 'agent.up', { host, version });
  log.info({ host }, 'host agent serving');
  return {
    host, driver, registered,
    async stop() {
      stopped = true;
      clearInterval(beat);
      clearTimeout(retry);
      await server.close();
      log.info({ host }, 'host agent stopped');
    },
  };
}
