// `nubes up` (everything in one process) and `nubes serve api` (one stateless API replica).
import { join } from 'node:path';
import type { Config } from './config.ts';
import { buildCloud, type Cloud } from './cloud.ts';
import { adminPassword, writeCloudFiles, CLOUD_NAME } from './cloud-files.ts';
import { openBus } from './bus.ts';
import { createLogger, type Logger } from '../platform/log.ts';
import { startHostAgent, type HostAgent } from '../compute/agent/host-agent.ts';
import { VERSION } from './version.ts';
import type { Bus } from '../platform/bus/bus.ts';
import { registerTinyImage, TINY_NAME } from './tiny-image.ts';
import { agentHosts, makeVirtDriver } from './virt.ts';
import { inProcessImageTransfer } from './image-transfer.ts';
import type { Subscription } from '../platform/bus/bus.ts';
import {
  busTokenCheck,
  createConsoleProxy,
  type ConsoleProxy,
} from '../compute/agent/console/proxy.ts';
import { consoleReport, mountConsole, novncDir } from './console.ts';
import { readyDataDir } from './data-dir.ts';
import { noteRunning } from './running.ts';
import { settleAfterStart } from './after-start.ts';

/** Resolves when SIGINT or SIGTERM arrives. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

async function listen(cloud: Cloud, config: Config, log: Logger): Promise<boolean> {
  try {
    await cloud.app.listen({ host: config.listen.host, port: config.listen.port });
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'EADDRINUSE'
        ? `${config.listen.host}:${config.listen.port} is already in use; is another nubes running? Choose another with --listen HOST:PORT`
        : code === 'EACCES'
          ? `no permission to listen on ${config.listen.host}:${config.listen.port}; use a port above 1023`
          : (e as Error).message;
    process.stderr.write(`nubes: cannot listen: ${why}\n`);
    log.error({ err: e }, 'listen failed');
    return false;
  }
}

export async function runUp(config: Config): Promise<number> {
  if (!readyDataDir(config.dataDir)) return 1;
  const logFile = join(config.dataDir, 'nubes.log');
  const log = createLogger({ level: config.logLevel, destination: logFile });
  const started = performance.now();
  const password = adminPassword(config.dataDir, config.adminPassword);
  let cloud: Cloud | undefined;
  let bus: Bus | undefined;
  const agents: HostAgent[] = [];
  let conductor: Subscription | undefined;
  // The console proxy rides on the API's listener, for the first host (the only one with a real
  // driver; the fake's several hosts have no VNC).
  let proxy: ConsoleProxy | undefined;
  try {
    cloud = await buildCloud(config, log, {
      adminPassword: password,
      mount: (app) => mountConsole(app, () => proxy),
    });
    bus = await openBus(config.bus, log);
    conductor = await cloud.compute.serveConductor(bus);
    cloud.image.notifyOn(bus, config.agentHost);
    cloud.identity.notifyOn(bus, config.agentHost, log);
    const files = novncDir();
    for (const [n, host] of agentHosts(config).entries()) {
      const driver = makeVirtDriver(config, log, host);
      if (n === 0)
        proxy = createConsoleProxy({
          log,
          checkToken: busTokenCheck(bus, host),
          socketOf: (id) => driver.consoleSocket(id),
          filesDir: files,
        });
      const consoleInfo = consoleReport(driver, files, n === 0 ? config.publicUrl : null);
      agents.push(
        await startHostAgent({
          bus,
          host,
          log,
          version: VERSION,
          driver,
          images: inProcessImageTransfer(cloud.image),
          console: consoleInfo,
          ratios: config.allocationRatios,
        }),
      );
    }
    await Promise.all(agents.map((a) => a.registered));
    if (!(await listen(cloud, config, log))) return 1;
  } catch (e) {
    process.stderr.write(
      `nubes: failed to start: ${(e as Error).message}\n(details in ${logFile})\n`,
    );
    log.error({ err: e }, 'start failed');
    for (const a of agents) await a.stop();
    await conductor?.close();
    await bus?.close();
    await cloud?.close();
    return 1;
  }
  const forget = noteRunning(config.runDir, {
    dataDir: config.dataDir,
    virtDriver: config.virtDriver,
    publicUrl: config.publicUrl,
  });
  const files = writeCloudFiles(config.dataDir, {
    publicUrl: config.publicUrl,
    region: config.region,
    password,
  });
  let tinyNote = `  image:      ${TINY_NAME} is not registered (image.tiny_image is off)`;
  if (config.image.tinyImage) {
    // A missing build input must not stop the cloud: say what to install and go on without it.
    try {
      const tiny = await registerTinyImage(cloud, config, (line) => log.info({ tiny: true }, line));
      tinyNote = `  image:      ${TINY_NAME} (public; build ${tiny.version.slice(0, 12)}, cached in ${config.cacheDir})`;
    } catch (e) {
      log.warn({ err: e }, 'nubes-tiny not registered');
      tinyNote = `  image:      ${TINY_NAME} NOT registered: ${(e as Error).message}`;
    }
  }
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    [
      `Nubes ${VERSION} is up (${cloud.bootstrap.firstStart ? 'first start: bootstrapped' : 'existing data'}, ${ms} ms).`,
      `  endpoint:   ${config.publicUrl}/identity/v3`,
      `  data dir:   ${config.dataDir}   (database ${config.database.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'}, bus ${config.bus === 'memory' ? 'in-process' : 'AMQP'})`,
      `  logs:       ${logFile}`,
      tinyNote,
      `  compute:    ${agents.length === 1 ? `host ${agents[0]!.host}` : `${agents.length} hosts (${agents[0]!.host} .. ${agents.at(-1)!.host})`}, virt driver ${config.virtDriver}`,
      `  clouds.yaml ${files.cloudsYaml}  (user admin, password in the file)`,
      '',
      'Try it, in another terminal:',
      `  export OS_CLIENT_CONFIG_FILE=${files.cloudsYaml} OS_CLOUD=${CLOUD_NAME}`,
      '  openstack token issue',
      '  openstack catalog list',
      '',
      'Press Ctrl-C to stop; starting again keeps all data.',
      '',
    ].join('\n'),
  );
  // After the text a user waits for, not before: the collection blocks the process for a moment.
  settleAfterStart();
  const sig = await untilSignal();
  process.stdout.write(`\nnubes: ${sig}: stopping...\n`);
  forget();
  proxy?.close();
  for (const a of agents) await a.stop();
  await conductor.close();
  await cloud.close();
  await bus.close();
  log.info('stopped');
  log.flush();
  process.stdout.write('nubes: stopped.\n');
  return 0;
}

export async function runServeApi(config: Config): Promise<number> {
  if (!readyDataDir(config.dataDir)) return 1;
  const log = createLogger({ level: config.logLevel });
  let cloud: Cloud | undefined;
  let bus: Bus | undefined;
  let conductor: Subscription | undefined;
  try {
    cloud = await buildCloud(config, log, {
      adminPassword: adminPassword(config.dataDir, config.adminPassword),
    });
    // The API reaches the host agents over the bus; opening it here makes a wrong --bus fail at start.
    bus = await openBus(config.bus, log);
    conductor = await cloud.compute.serveConductor(bus);
    cloud.image.notifyOn(bus, config.agentHost);
    cloud.identity.notifyOn(bus, config.agentHost, log);
  } catch (e) {
    process.stderr.write(`nubes: failed to start the API: ${(e as Error).message}\n`);
    await cloud?.close();
    return 1;
  }
  if (!(await listen(cloud, config, log))) {
    await conductor.close();
    await cloud.close();
    await bus.close();
    return 1;
  }
  log.info({ url: config.publicUrl }, 'api serving');
  await untilSignal();
  await conductor.close();
  await cloud.close();
  await bus.close();
  log.flush();
  return 0;
}
