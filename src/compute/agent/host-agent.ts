// The agent of one hypervisor host: serves `compute.<host>` on the bus. For now it answers pings
// and announces itself; the virt driver and instance work plug in here (issues 5 and 6). It never
// touches the database.
import type { Bus, Subscription } from '../../platform/bus/bus.ts';
import type { Logger } from '../../platform/log.ts';

export const agentTarget = (host: string) => `compute.${host}`;

export interface HostAgent {
  readonly host: string;
  stop(): Promise<void>;
}

export async function startHostAgent(deps: { bus: Bus; host: string; log: Logger; version: string }): Promise<HostAgent> {
  const { bus, host, log, version } = deps;
  const startedAt = Date.now();
  const server: Subscription = await bus.serve(agentTarget(host), async (method) => {
    switch (method) {
      case 'ping': return { host, version, uptime_ms: Date.now() - startedAt };
      default: throw new Error(`agent ${host} does not handle ${method}`);
    }
  });
  await bus.notify('compute', 'agent.up', { host, version });
  log.info({ host }, 'host agent serving');
  return {
    host,
    async stop() {
      await server.close();
      log.info({ host }, 'host agent stopped');
    },
  };
}
