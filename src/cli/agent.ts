// `nubes serve agent --host NAME`: one hypervisor host's agent, reached over the bus.
import type { Config } from './config.ts';
import { openBus } from './bus.ts';
import { createLogger } from '../platform/log.ts';
import { startHostAgent } from '../compute/agent/host-agent.ts';
import { VERSION } from './version.ts';
import { makeVirtDriver } from './virt.ts';
import { busImageTransfer } from '../compute/agent/image-over-bus.ts';

export async function runServeAgent(config: Config): Promise<number> {
  if (config.bus === 'memory') {
    process.stderr.write('nubes: a separate agent needs a shared bus: add --bus amqp://user:pass@rabbitmq-host:5672/ (nubes up runs its own agent in-process)\n');
    return 2;
  }
  const log = createLogger({ level: config.logLevel });
  let bus;
  try {
    bus = await openBus(config.bus, log);
  } catch (e) {
    process.stderr.write(`nubes: the agent cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  const agent = await startHostAgent({ bus, host: config.agentHost, log, version: VERSION, driver: makeVirtDriver(config, log), images: busImageTransfer(bus) });
  await new Promise<void>((resolve) => { process.once('SIGINT', () => resolve()); process.once('SIGTERM', () => resolve()); });
  await agent.stop();
  await bus.close();
  log.flush();
  return 0;
}
