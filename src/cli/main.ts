// The `nubes` command line: parses arguments, loads the configuration, and hands over to the
// command. The only place that reads process.argv and process.env.
import { loadConfig, SETTINGS, ConfigError } from './config.ts';
import { runUp, runServeApi } from './up.ts';
import { runServeAgent } from './agent.ts';
import { runRotateKeys } from './admin.ts';
import { runBuildTiny } from './tiny-image.ts';

const USAGE = `nubes: an OpenStack-compatible cloud in one program

Usage:
  nubes up [options]                 the all-in-one cloud in the foreground: the API and this
                                     host's agent in one process, on SQLite and the in-process bus.
                                     First start bootstraps the admin user and writes
                                     <data-dir>/clouds.yaml and <data-dir>/openrc. Ctrl-C stops it.
  nubes api [options]                one stateless API process (scale out: run several behind a
                                     balancer, with --database postgres://... and --bus amqp://...);
                                     also spelled nubes serve api
  nubes agent --host NAME            the agent of one hypervisor host (needs --bus amqp://...);
                                     also spelled nubes serve agent
  nubes admin rotate-token-keys      rotate the token encryption keys (run against the same database)
  nubes image build-tiny             build the nubes-tiny guest image offline (cached in --cache-dir)
  nubes doctor                       what this host can do for Nubes, and what to install for the rest
  nubes --help                       this text

Options (each also settable in the config file and by environment variable):
${SETTINGS.map((s) => `  ${(s.flag ? `${s.flag} VALUE` : '').padEnd(22)} ${s.env.padEnd(26)} ${s.help}`).join('\n')}
  --config FILE                                            YAML config file (default <data-dir>/nubes.yaml,
                                                           then /etc/nubes/nubes.yaml); keys as in the
                                                           first column of docs/configuration.md
`;

function parseArgs(argv: readonly string[]): {
  words: string[];
  flags: Record<string, string>;
  help: boolean;
} {
  const words: string[] = [];
  const flags: Record<string, string> = {};
  let help = false;
  const known = new Set([...SETTINGS.flatMap((s) => (s.flag ? [s.flag] : [])), '--config']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (!known.has(name)) throw new ConfigError(`unknown option ${name}; see nubes --help`);
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new ConfigError(`option ${name} needs a value`);
      flags[name] = value;
    } else {
      words.push(a);
    }
  }
  return { words, flags, help };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`nubes: ${(e as Error).message}\n`);
    return 2;
  }
  if (args.help || args.words.length === 0) {
    process.stdout.write(USAGE);
    return args.help ? 0 : 2;
  }
  const { ['--config']: configFile, ...flags } = args.flags;
  let config;
  try {
    config = loadConfig({ flags, env: process.env, ...(configFile ? { configFile } : {}) });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`nubes: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const cmd = args.words.join(' ');
  switch (cmd) {
    case 'up':
      return runUp(config);
    case 'api':
    case 'serve api':
      return runServeApi(config);
    case 'agent':
    case 'serve agent':
      return runServeAgent(config);
    case 'admin rotate-token-keys':
      return runRotateKeys(config);
    case 'image build-tiny':
      return runBuildTiny(config);
    case 'doctor':
      return (await import('./doctor.ts')).runDoctorCommand(config);
    default:
      process.stderr.write(`nubes: unknown command '${cmd}'; see nubes --help\n`);
      return 2;
  }
}

process.exitCode = await main();
