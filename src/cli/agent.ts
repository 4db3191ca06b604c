// `nubes serve agent --host NAME`: one hypervisor host's agent, reached over the bus.
import type { Config } from './config.ts';
import { openBus } from './bus.ts';
import { createLogger } from '../platform/log.ts';
import { startHostAgent } from '../compute/agent/host-agent.ts';
import { VERSION } from './version.ts';
import { makeVirtDriver } from './virt.ts';
import { busImageTransfer } from '../compute/agent/image-over-bus.ts';
import { busTokenCheck, createConsoleProxy } from '../compute/agent/console/proxy.ts';
import { consoleReport, listenConsole, novncDir } from './console.ts';
import { readyDataDir } from './data-dir.ts';

export async function runServeAgent(config: Config): Promise<number> {
  if (config.bus === 'memory') {
    process.stderr.write(
      'nubes: a separate agent needs a shared bus: add --bus amqp://user:pass@rabbitmq-host:5672/ (nubes up runs its own agent in-process)\n',
    );
    return 2;
  }
  // Instance disks, sockets and consoles go under the data dir: owner-only, as in nubes up.
  if (!readyDataDir(config.dataDir)) return 1;
  const log = createLogger({ level: config.logLevel });
  let bus;
  try {
    bus = await openBus(config.bus, log);
  } catch (e) {
    process.stderr.write(`nubes: the agent cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  const driver = makeVirtDriver(config, log);
  const files = novncDir();
  // The console proxy has its own listener here: the API replicas may run on other machines.
  const proxy = createConsoleProxy({
    log,
    checkToken: busTokenCheck(bus, config.agentHost),
    socketOf: (id) => driver.consoleSocket(id),
    filesDir: files,
  });
  let consoleServer;
  if (config.console.listen && driver.capabilities.supportsVncConsole) {
    try {
      consoleServer = await listenConsole(proxy, config.console.listen);
    } catch (e) {
      process.stderr.write(
        `nubes: the console proxy cannot listen on ${config.console.listen.host}:${config.console.listen.port}: ${(e as Error).message}\n`,
      );
      await bus.close();
      return 1;
    }
  }
  const consoleInfo = consoleReport(driver, files, consoleServer ? config.console.publicUrl : null);
  const agent = await startHostAgent({
    bus,
    host: config.agentHost,
    log,
    version: VERSION,
    driver,
    images: busImageTransfer(bus),
    console: consoleInfo,
    ratios: config.allocationRatios,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  proxy.close();
  consoleServer?.close();
  await agent.stop();
  await bus.close();
  log.flush();
  return 0;
}
