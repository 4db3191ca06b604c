// Loads the one configuration: defaults, then the YAML file, then NUBES_* environment variables,
// then command-line flags; validates it and deep-freezes it. Nothing else in the program reads
// process.env or config files. Each section (its settings, type, defaults and cross-checks) lives
// with its owner; a new service adds its src/<service>/config.ts to SECTIONS.
import {
  platformSection,
  dataDirOf,
  defaultConfigFiles,
} from '../platform/config/platform-section.ts';
import { assemble, settingsOf, type ConfigOf } from '../platform/config/section.ts';
import { readSettings } from '../platform/config/sources.ts';
import { identitySection } from '../identity/config.ts';
import { computeSection } from '../compute/config.ts';
import { imageSection } from '../image/config.ts';

export { ConfigError } from '../platform/config/setting.ts';

/** The sections, in the order `nubes --help` lists their settings. */
const SECTIONS = [platformSection, identitySection, computeSection, imageSection] as const;

export type Config = ConfigOf<typeof SECTIONS>;

export const SETTINGS = settingsOf(SECTIONS);

export interface ConfigSources {
  readonly flags: Readonly<Record<string, string>>;
  readonly env: NodeJS.ProcessEnv;
  /** --config; otherwise <data-dir>/nubes.yaml, then /etc/nubes/nubes.yaml, when present. */
  readonly configFile?: string;
}

export function loadConfig(src: ConfigSources): Config {
  const values = readSettings(SETTINGS, {
    flags: src.flags,
    env: src.env,
    file: src.configFile
      ? { named: src.configFile }
      : { candidates: defaultConfigFiles(src.flags, src.env) },
  });
  return assemble(SECTIONS, values, { env: src.env, dataDir: dataDirOf(values, src.env) });
}
