// The platform's configuration section: what every process has whatever services it runs (where
// its data is, the API listener, database, bus, region, logs, policy, this host's name). The
// services' sections live in src/<service>/config.ts.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, type Listen, type LogLevel } from './setting.ts';
import { defineSection } from './section.ts';
import { baseUrl, urlOfListener } from './base-url.ts';
import { defaultDataDir, defaultRunDir } from './dirs.ts';

export interface PlatformConfig {
  readonly dataDir: string;
  /** Whether data_dir was given (flag, environment or config file) rather than the default. */
  readonly dataDirSet: boolean;
  /** Where a running `nubes up` notes its data dir, for `nubes doctor`. */
  readonly runDir: string;
  readonly listen: Listen;
  /** URL clients use to reach this cloud; defaults to http://<listen> (loopback when listening on all). */
  readonly publicUrl: string;
  /** A SQLite file path, 'sqlite::memory:', or postgres://... */
  readonly database: string;
  /** 'memory' or amqp://... */
  readonly bus: string;
  readonly region: string;
  readonly logLevel: LogLevel;
  readonly policyFile: string | null;
  /** The admin's password on first start (null: `nubes up` generates one and keeps it in data_dir). */
  readonly adminPassword: string | null;
  /** This host's name for its agent. */
  readonly agentHost: string;
}

/** Read before the others: it decides where the default config file is, and it is the context
 * every section's defaults are made in (SectionContext.dataDir). */
const DATA_DIR = {
  key: 'data_dir',
  env: 'NUBES_DATA_DIR',
  flag: '--data-dir',
  kind: 'string',
  help: 'where the database, keys, logs and clouds.yaml live',
} as const;

export const platformSection = defineSection({
  settings: [
    DATA_DIR,
    {
      key: 'run_dir',
      env: 'NUBES_RUN_DIR',
      flag: '--run-dir',
      kind: 'string',
      help: 'where a running nubes up notes its data dir for nubes doctor (default /run/nubes for root, $XDG_RUNTIME_DIR/nubes)',
    },
    {
      key: 'listen',
      env: 'NUBES_LISTEN',
      flag: '--listen',
      kind: 'listen',
      help: 'HOST:PORT of the API listener (default 127.0.0.1:5000)',
    },
    {
      key: 'public_url',
      env: 'NUBES_PUBLIC_URL',
      flag: '--public-url',
      kind: 'string',
      help: 'URL clients reach the API at (default http://<listen>)',
    },
    {
      key: 'database',
      env: 'NUBES_DATABASE',
      flag: '--database',
      kind: 'string',
      help: 'SQLite file (default <data-dir>/nubes.db) or postgres://user:pass@host/db',
    },
    {
      key: 'bus',
      env: 'NUBES_BUS',
      flag: '--bus',
      kind: 'string',
      help: "'memory' (default, one process) or amqp://user:pass@host:5672/",
    },
    {
      key: 'region',
      env: 'NUBES_REGION',
      flag: '--region',
      kind: 'string',
      help: 'region name in the catalog (default RegionOne)',
    },
    {
      key: 'log_level',
      env: 'NUBES_LOG_LEVEL',
      flag: '--log-level',
      kind: 'level',
      help: 'fatal|error|warn|info|debug|trace|silent (default info)',
    },
    {
      key: 'policy_file',
      env: 'NUBES_POLICY_FILE',
      flag: '--policy-file',
      kind: 'string',
      help: 'YAML/JSON policy overrides (oslo.policy syntax)',
    },
    {
      key: 'admin_password',
      env: 'NUBES_ADMIN_PASSWORD',
      kind: 'string',
      help: 'admin password set on first start (default: generated)',
    },
    {
      key: 'host',
      env: 'NUBES_HOST',
      flag: '--host',
      kind: 'string',
      help: "this hypervisor host's name for the agent (default: the machine's hostname)",
    },
  ],
  resolve(v, { env, dataDir }): PlatformConfig {
    // data_dir itself was resolved first (dataDirOf), as every section's context.
    const listen = v.listen ?? { host: '127.0.0.1', port: 5000 };
    const publicUrl = baseUrl('public_url', v.public_url ?? urlOfListener(listen));
    const bus = v.bus ?? 'memory';
    if (bus !== 'memory' && !/^amqps?:\/\//.test(bus))
      throw new ConfigError(`bus must be 'memory' or amqp://..., got ${bus}`);
    return {
      dataDir,
      dataDirSet: v.data_dir !== undefined,
      runDir: resolve(v.run_dir ?? defaultRunDir(env)),
      listen,
      publicUrl,
      database: v.database ?? join(dataDir, 'nubes.db'),
      bus,
      region: v.region ?? 'RegionOne',
      logLevel: v.log_level ?? 'info',
      policyFile: v.policy_file ?? null,
      adminPassword: v.admin_password ?? null,
      agentHost: v.host ?? hostname(),
    };
  },
});

/** The data_dir the values name (relative to the working directory), or the default one. */
export function dataDirOf(values: ReadonlyMap<string, unknown>, env: NodeJS.ProcessEnv): string {
  return resolve((values.get(DATA_DIR.key) as string | undefined) ?? defaultDataDir(env));
}

/** The config files tried when none is named: <data-dir>/nubes.yaml, then /etc/nubes/nubes.yaml.
 * Only env and flags can move the data dir the default file is looked for in. */
export function defaultConfigFiles(
  flags: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv,
): string[] {
  const early = flags[DATA_DIR.flag] ?? env[DATA_DIR.env];
  return [join(early ? early : defaultDataDir(env), 'nubes.yaml'), '/etc/nubes/nubes.yaml'];
}
