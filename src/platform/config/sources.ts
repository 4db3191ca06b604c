// Reads the values of a list of settings from a YAML file, then NUBES_* environment variables, then
// command-line flags (each later one wins), refusing a key in the file that is not a setting.
// Defaults and cross-checks are the sections' (section.ts); nothing here knows a setting by name.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Setting } from './setting.ts';
import { parseValue } from './kinds.ts';

export interface SettingSources {
  readonly flags: Readonly<Record<string, string>>;
  readonly env: NodeJS.ProcessEnv;
  /** The file the user named (it must exist), or else the files tried in order (none may exist). */
  readonly file: { readonly named: string } | { readonly candidates: readonly string[] };
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

function readFile(settings: readonly Setting[], file: string): unknown {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (e) {
    throw new ConfigError(`config file ${file}: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`config file ${file}: expected a mapping`);
  const unknown = leafKeys(doc).filter((k) => !settings.some((s) => s.key === k));
  if (unknown.length > 0) {
    throw new ConfigError(
      `config file ${file}: unknown setting ${unknown.map((k) => `'${k}'`).join(', ')}; the settings are listed in docs/configuration.md`,
    );
  }
  return doc;
}

/** The parsed value of each setting given somewhere, by key; a setting given nowhere is absent. */
export function readSettings(
  settings: readonly Setting[],
  src: SettingSources,
): Map<string, unknown> {
  const candidates = 'named' in src.file ? [src.file.named] : src.file.candidates;
  const file = candidates.find((f) => existsSync(f));
  if ('named' in src.file && !file)
    throw new ConfigError(`config file ${src.file.named} does not exist`);
  const doc = file ? readFile(settings, file) : {};
  const values = new Map<string, unknown>();
  for (const s of settings) {
    const fromFile = getPath(doc, s.key);
    if (fromFile !== undefined && fromFile !== null)
      values.set(s.key, parseValue(s, fromFile, `in ${file}`));
    const fromEnv = src.env[s.env];
    if (fromEnv !== undefined && fromEnv !== '')
      values.set(s.key, parseValue(s, fromEnv, `env ${s.env}`));
    const fromFlag = s.flag ? src.flags[s.flag] : undefined;
    if (fromFlag !== undefined) values.set(s.key, parseValue(s, fromFlag, `flag ${s.flag}`));
  }
  return values;
}
