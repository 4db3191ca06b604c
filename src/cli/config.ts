// Loads the one configuration: defaults, then the YAML file, then NUBES_* environment variables,
// then command-line flags; validates it against one schema and deep-freezes it. Nothing else in
// the program reads process.env or config files.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Argon2Params } from '../platform/auth/password.ts';
import { DEFAULT_ARGON2 } from '../platform/auth/password.ts';
import { DEFAULT_IMAGE_CONFIG, type ImageConfig } from '../image/index.ts';

export interface Config {
  readonly dataDir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** URL clients use to reach this cloud; defaults to http://<listen> (loopback when listening on all). */
  readonly publicUrl: string;
  /** A SQLite file path, 'sqlite::memory:', or postgres://... */
  readonly database: string;
  /** 'memory' or amqp://... */
  readonly bus: string;
  readonly region: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly policyFile: string | null;
  readonly adminPassword: string | null;
  readonly agentHost: string;
  /** The hypervisor driver of this host's agent: 'fake' (in memory); 'qemu' comes with real VMs. */
  readonly virtDriver: 'fake' | 'qemu';
  /** The agent's console proxy in `nubes serve agent` (`nubes up` serves it on its API listener):
   * where it listens (null: none) and the scheme://host[:port] browsers reach it at. */
  readonly console: {
    readonly listen: { readonly host: string; readonly port: number } | null;
    readonly publicUrl: string | null;
  };
  /** The address other hosts send live migrations coming to this host's agent to (QEMU listens there for each one). */
  readonly migrationAddress: string;
  /** What this host's agent offers per unit of its inventory (Nova's *_allocation_ratio); null: the cloud's default (4, 1, 1). */
  readonly allocationRatios: {
    readonly cpu: number | null;
    readonly ram: number | null;
    readonly disk: number | null;
  };
  /** Where the qemu driver keeps instance disks and its image cache when they are on storage shared with other hosts (null: in data_dir). */
  readonly instancesPath: string | null;
  /** The fake driver's simulated hosts: how many agents `nubes up` runs, and each one's size. */
  readonly fake: {
    readonly hosts: number;
    readonly vcpus: number;
    readonly memoryMb: number;
    readonly diskGb: number;
  };
  readonly identity: {
    readonly tokenTtlSeconds: number;
    readonly maxActiveKeys: number;
    readonly argon2: Argon2Params;
  };
  /** Builds kept between runs (the tiny guest image); not data: safe to delete. */
  readonly cacheDir: string;
  readonly image: ImageConfig & {
    /** Whether `nubes up` builds and registers the nubes-tiny guest image. */
    readonly tinyImage: boolean;
    /** Where the file store keeps image data (default <data_dir>/images; share it between api replicas). */
    readonly storeDir: string;
    /** Where data staged for import waits (default <data_dir>/image-staging). */
    readonly stagingDir: string;
  };
}

/** One setting: its YAML path, environment variable, flag, and how to read a string form of it. */
interface Setting {
  readonly key: string;
  readonly env: string;
  readonly flag?: string;
  readonly help: string;
  readonly kind:
    | 'string'
    | 'int'
    | 'count'
    | 'ratio'
    | 'ip'
    | 'listen'
    | 'level'
    | 'conversion'
    | 'switch'
    | 'virt';
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'data_dir',
    env: 'NUBES_DATA_DIR',
    flag: '--data-dir',
    kind: 'string',
    help: 'where the database, keys, logs and clouds.yaml live',
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
  {
    key: 'identity.token_ttl_seconds',
    env: 'NUBES_TOKEN_TTL_SECONDS',
    kind: 'int',
    help: 'token lifetime (default 3600)',
  },
  {
    key: 'identity.max_active_keys',
    env: 'NUBES_MAX_ACTIVE_KEYS',
    kind: 'int',
    help: 'token keys kept on rotation (default 3)',
  },
  {
    key: 'identity.password_hash.memory_kib',
    env: 'NUBES_ARGON2_MEMORY_KIB',
    kind: 'int',
    help: 'Argon2id memory (default 65536)',
  },
  {
    key: 'identity.password_hash.passes',
    env: 'NUBES_ARGON2_PASSES',
    kind: 'int',
    help: 'Argon2id passes (default 3)',
  },
  {
    key: 'identity.password_hash.parallelism',
    env: 'NUBES_ARGON2_PARALLELISM',
    kind: 'int',
    help: 'Argon2id lanes (default 4)',
  },
  {
    key: 'virt_driver',
    env: 'NUBES_VIRT_DRIVER',
    flag: '--virt-driver',
    kind: 'virt',
    help: "the agent's hypervisor driver: qemu (real VMs; the default when qemu-system-x86_64 is installed) or fake (in memory, for tests and simulations)",
  },
  {
    key: 'console_listen',
    env: 'NUBES_CONSOLE_LISTEN',
    flag: '--console-listen',
    kind: 'listen',
    help: "HOST:PORT of a separate agent's VNC console proxy (noVNC pages and websocket); nubes up serves it on --listen (default: none)",
  },
  {
    key: 'migration_address',
    env: 'NUBES_MIGRATION_ADDRESS',
    flag: '--migration-address',
    kind: 'ip',
    help: "the IP address other hosts reach this agent's host at for live migrations (default 127.0.0.1: all hosts on one machine)",
  },
  {
    key: 'cpu_allocation_ratio',
    env: 'NUBES_CPU_ALLOCATION_RATIO',
    flag: '--cpu-allocation-ratio',
    kind: 'ratio',
    help: "guest vCPUs this host's agent offers per host CPU (default 4, as Nova's initial ratio)",
  },
  {
    key: 'ram_allocation_ratio',
    env: 'NUBES_RAM_ALLOCATION_RATIO',
    flag: '--ram-allocation-ratio',
    kind: 'ratio',
    help: "guest RAM this host's agent offers per byte of host RAM (default 1)",
  },
  {
    key: 'disk_allocation_ratio',
    env: 'NUBES_DISK_ALLOCATION_RATIO',
    flag: '--disk-allocation-ratio',
    kind: 'ratio',
    help: "guest disk this host's agent offers per byte of host disk (default 1)",
  },
  {
    key: 'instances_path',
    env: 'NUBES_INSTANCES_PATH',
    flag: '--instances-path',
    kind: 'string',
    help: 'a directory shared by the hypervisor hosts (NFS) for instance disks and the image cache, so live migrations between them move memory only (default: in data_dir, not shared)',
  },
  {
    key: 'console_public_url',
    env: 'NUBES_CONSOLE_PUBLIC_URL',
    flag: '--console-public-url',
    kind: 'string',
    help: "scheme://host[:port] browsers reach the agent's console proxy at (default http://<console_listen>)",
  },
  {
    key: 'fake.hosts',
    env: 'NUBES_FAKE_HOSTS',
    flag: '--fake-hosts',
    kind: 'int',
    help: 'fake driver: hosts `nubes up` simulates, named <host>-1..N when more than one (default 1)',
  },
  {
    key: 'fake.vcpus',
    env: 'NUBES_FAKE_VCPUS',
    kind: 'int',
    help: 'fake driver: vCPUs of each simulated host (default 16)',
  },
  {
    key: 'fake.memory_mb',
    env: 'NUBES_FAKE_MEMORY_MB',
    kind: 'int',
    help: 'fake driver: MB of RAM of each simulated host (default 32768)',
  },
  {
    key: 'fake.disk_gb',
    env: 'NUBES_FAKE_DISK_GB',
    kind: 'int',
    help: 'fake driver: GB of disk of each simulated host (default 1024)',
  },
  {
    key: 'cache_dir',
    env: 'NUBES_CACHE_DIR',
    flag: '--cache-dir',
    kind: 'string',
    help: 'build cache (default /var/cache/nubes for root, ~/.cache/nubes)',
  },
  {
    key: 'image.tiny_image',
    env: 'NUBES_TINY_IMAGE',
    kind: 'switch',
    help: 'on|off: nubes up registers the nubes-tiny guest image (default on)',
  },
  {
    key: 'image.store_dir',
    env: 'NUBES_IMAGE_STORE_DIR',
    kind: 'string',
    help: 'image data directory (default <data-dir>/images)',
  },
  {
    key: 'image.staging_dir',
    env: 'NUBES_IMAGE_STAGING_DIR',
    kind: 'string',
    help: 'staging for image import (default <data-dir>/image-staging)',
  },
  {
    key: 'image.storage_quota_bytes',
    env: 'NUBES_IMAGE_STORAGE_QUOTA',
    kind: 'count',
    help: 'image bytes per project, 0 = unlimited (default 0)',
  },
  {
    key: 'image.count_quota',
    env: 'NUBES_IMAGE_COUNT_QUOTA',
    kind: 'count',
    help: 'images per project, 0 = unlimited (default 0)',
  },
  {
    key: 'image.import_conversion_format',
    env: 'NUBES_IMAGE_IMPORT_FORMAT',
    kind: 'conversion',
    help: 'qcow2|raw|none: format imports are converted to (default qcow2)',
  },
];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/cache/nubes';
  return join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'nubes');
}

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/lib/nubes';
  return join(env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'nubes');
}

function parseValue(s: Setting, raw: unknown, from: string): unknown {
  switch (s.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '')
        throw new ConfigError(`${s.key} (${from}) must be a non-empty string`);
      return raw;
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isInteger(n) || n <= 0)
        throw new ConfigError(
          `${s.key} (${from}) must be a positive integer, got ${JSON.stringify(raw)}`,
        );
      return n;
    }
    case 'count': {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isSafeInteger(n) || n < 0)
        throw new ConfigError(
          `${s.key} (${from}) must be an integer of 0 or more, got ${JSON.stringify(raw)}`,
        );
      return n;
    }
    case 'ratio': {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(n) || n <= 0 || n > 1000)
        throw new ConfigError(
          `${s.key} (${from}) must be a number above 0 (at most 1000), got ${JSON.stringify(raw)}`,
        );
      return n;
    }
    case 'ip':
      if (typeof raw !== 'string' || isIP(raw) === 0)
        throw new ConfigError(
          `${s.key} (${from}) must be an IP address, got ${JSON.stringify(raw)}`,
        );
      return raw;
    case 'virt':
      if (raw !== 'fake' && raw !== 'qemu')
        throw new ConfigError(
          `${s.key} (${from}) must be fake or qemu, got ${JSON.stringify(raw)}`,
        );
      return raw;
    case 'switch':
      if (raw === true || raw === 'on' || raw === 'true') return true;
      if (raw === false || raw === 'off' || raw === 'false') return false;
      throw new ConfigError(`${s.key} (${from}) must be on or off, got ${JSON.stringify(raw)}`);
    case 'conversion':
      if (raw !== 'qcow2' && raw !== 'raw' && raw !== 'none')
        throw new ConfigError(
          `${s.key} (${from}) must be qcow2, raw or none, got ${JSON.stringify(raw)}`,
        );
      return raw === 'none' ? null : raw;
    case 'level': {
      const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
      if (typeof raw !== 'string' || !levels.includes(raw))
        throw new ConfigError(`${s.key} (${from}) must be one of ${levels.join(', ')}`);
      return raw;
    }
    case 'listen': {
      const m =
        typeof raw === 'string' ? /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw) : null;
      const port = m ? Number(m[2]) : NaN;
      if (!m || port > 65535)
        throw new ConfigError(
          `${s.key} (${from}) must be HOST:PORT, e.g. 127.0.0.1:5000, got ${JSON.stringify(raw)}`,
        );
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
    }
  }
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** The dotted paths of a YAML document's leaves ('identity.password_hash.passes', ...). */
function leafKeys(doc: unknown, prefix = ''): string[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return prefix ? [prefix] : [];
  return Object.entries(doc as Record<string, unknown>).flatMap(([k, v]) =>
    leafKeys(v, prefix ? `${prefix}.${k}` : k),
  );
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export interface ConfigSources {
  readonly flags: Readonly<Record<string, string>>;
  readonly env: NodeJS.ProcessEnv;
  /** --config; otherwise <data-dir>/nubes.yaml, then /etc/nubes/nubes.yaml, when present. */
  readonly configFile?: string;
}

/** Whether an executable of that name is in one of PATH's directories (nothing is run). */
function onPath(name: string, path: string | undefined): boolean {
  return (path ?? '').split(':').some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function loadConfig(src: ConfigSources): Config {
  const values = new Map<string, unknown>();
  // The data dir decides where the default config file is, so resolve it from env/flags first.
  const earlyDataDir = src.flags['--data-dir'] ?? src.env['NUBES_DATA_DIR'];
  const candidates = src.configFile
    ? [src.configFile]
    : [
        earlyDataDir
          ? join(earlyDataDir, 'nubes.yaml')
          : join(defaultDataDir(src.env), 'nubes.yaml'),
        '/etc/nubes/nubes.yaml',
      ];
  const file = candidates.find((f) => existsSync(f));
  if (src.configFile && !file)
    throw new ConfigError(`config file ${src.configFile} does not exist`);
  let doc: unknown = {};
  if (file) {
    try {
      doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${file}: ${(e as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc))
      throw new ConfigError(`config file ${file}: expected a mapping`);
    const unknown = leafKeys(doc).filter((k) => !SETTINGS.some((s) => s.key === k));
    if (unknown.length > 0) {
      throw new ConfigError(
        `config file ${file}: unknown setting ${unknown.map((k) => `'${k}'`).join(', ')}; the settings are listed in docs/configuration.md`,
      );
    }
  }
  for (const s of SETTINGS) {
    const fromFile = getPath(doc, s.key);
    if (fromFile !== undefined && fromFile !== null)
      values.set(s.key, parseValue(s, fromFile, `in ${file}`));
    const fromEnv = src.env[s.env];
    if (fromEnv !== undefined && fromEnv !== '')
      values.set(s.key, parseValue(s, fromEnv, `env ${s.env}`));
    const fromFlag = s.flag ? src.flags[s.flag] : undefined;
    if (fromFlag !== undefined) values.set(s.key, parseValue(s, fromFlag, `flag ${s.flag}`));
  }
  const dataDir = resolve(
    (values.get('data_dir') as string | undefined) ?? defaultDataDir(src.env),
  );
  const listen = (values.get('listen') as Config['listen'] | undefined) ?? {
    host: '127.0.0.1',
    port: 5000,
  };
  const reachable = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const urlHost = reachable.includes(':') ? `[${reachable}]` : reachable;
  const publicUrl = (
    (values.get('public_url') as string | undefined) ?? `http://${urlHost}:${listen.port}`
  ).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(publicUrl))
    throw new ConfigError(`public_url must be scheme://host[:port] with no path, got ${publicUrl}`);
  const database = (values.get('database') as string | undefined) ?? join(dataDir, 'nubes.db');
  const bus = (values.get('bus') as string | undefined) ?? 'memory';
  if (bus !== 'memory' && !/^amqps?:\/\//.test(bus))
    throw new ConfigError(`bus must be 'memory' or amqp://..., got ${bus}`);
  const consoleListen = (values.get('console_listen') as Config['listen'] | undefined) ?? null;
  const consoleHost =
    consoleListen &&
    (consoleListen.host === '0.0.0.0' || consoleListen.host === '::'
      ? '127.0.0.1'
      : consoleListen.host);
  const consoleUrl =
    (
      (values.get('console_public_url') as string | undefined) ??
      (consoleListen
        ? `http://${consoleHost!.includes(':') ? `[${consoleHost}]` : consoleHost}:${consoleListen.port}`
        : null)
    )?.replace(/\/+$/, '') ?? null;
  if (consoleUrl !== null && !/^https?:\/\/[^/]+$/.test(consoleUrl))
    throw new ConfigError(
      `console_public_url must be scheme://host[:port] with no path, got ${consoleUrl}`,
    );
  const num = (k: string, d: number) => (values.get(k) as number | undefined) ?? d;
  return deepFreeze({
    dataDir,
    listen,
    publicUrl,
    database,
    bus,
    region: (values.get('region') as string | undefined) ?? 'RegionOne',
    logLevel: (values.get('log_level') as Config['logLevel'] | undefined) ?? 'info',
    policyFile: (values.get('policy_file') as string | undefined) ?? null,
    adminPassword: (values.get('admin_password') as string | undefined) ?? null,
    agentHost: (values.get('host') as string | undefined) ?? hostname(),
    virtDriver:
      (values.get('virt_driver') as 'fake' | 'qemu' | undefined) ??
      (onPath('qemu-system-x86_64', src.env['PATH']) ? 'qemu' : 'fake'),
    console: { listen: consoleListen, publicUrl: consoleUrl },
    migrationAddress: (values.get('migration_address') as string | undefined) ?? '127.0.0.1',
    allocationRatios: {
      cpu: (values.get('cpu_allocation_ratio') as number | undefined) ?? null,
      ram: (values.get('ram_allocation_ratio') as number | undefined) ?? null,
      disk: (values.get('disk_allocation_ratio') as number | undefined) ?? null,
    },
    instancesPath: values.has('instances_path')
      ? resolve(values.get('instances_path') as string)
      : null,
    fake: {
      hosts: Math.max(1, num('fake.hosts', 1)),
      vcpus: num('fake.vcpus', 16),
      memoryMb: num('fake.memory_mb', 32768),
      diskGb: num('fake.disk_gb', 1024),
    },
    identity: {
      tokenTtlSeconds: num('identity.token_ttl_seconds', 3600),
      maxActiveKeys: num('identity.max_active_keys', 3),
      argon2: {
        memoryKiB: num('identity.password_hash.memory_kib', DEFAULT_ARGON2.memoryKiB),
        passes: num('identity.password_hash.passes', DEFAULT_ARGON2.passes),
        parallelism: num('identity.password_hash.parallelism', DEFAULT_ARGON2.parallelism),
      },
    },
    cacheDir: resolve((values.get('cache_dir') as string | undefined) ?? defaultCacheDir(src.env)),
    image: {
      ...DEFAULT_IMAGE_CONFIG,
      tinyImage: (values.get('image.tiny_image') as boolean | undefined) ?? true,
      storeDir: resolve(
        (values.get('image.store_dir') as string | undefined) ?? join(dataDir, 'images'),
      ),
      stagingDir: resolve(
        (values.get('image.staging_dir') as string | undefined) ?? join(dataDir, 'image-staging'),
      ),
      storageQuotaBytes: num('image.storage_quota_bytes', DEFAULT_IMAGE_CONFIG.storageQuotaBytes),
      imageCountQuota: num('image.count_quota', DEFAULT_IMAGE_CONFIG.imageCountQuota),
      importConversionFormat: values.has('image.import_conversion_format')
        ? (values.get('image.import_conversion_format') as ImageConfig['importConversionFormat'])
        : DEFAULT_IMAGE_CONFIG.importConversionFormat,
    },
  });
}
