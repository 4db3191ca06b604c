// A configuration section: the settings one part of the program owns and how it turns their values
// into its part of the Config, with defaults and cross-checks. The CLI lists the sections; this
// file joins them into one deep-frozen object and refuses two sections claiming the same thing.
import type { Setting, Values } from './setting.ts';

/** What every section may build its defaults from, beyond its own values. */
export interface SectionContext {
  readonly env: NodeJS.ProcessEnv;
  /** The resolved data_dir: the default home of every section's files. */
  readonly dataDir: string;
}

export interface ConfigSection<
  S extends readonly Setting[] = readonly Setting[],
  C extends object = object,
> {
  /** Its settings, in the order `nubes --help` lists them. */
  readonly settings: S;
  /** Its fields of the Config, with defaults where nothing was given; throws ConfigError on a value
   * that does not fit with another. */
  resolve(values: Values<S>, ctx: SectionContext): C;
}

/** Types a section's values by its settings' kinds (`const` keeps each key and kind literal). */
export function defineSection<const S extends readonly Setting[], C extends object>(
  section: ConfigSection<S, C>,
): ConfigSection<S, C> {
  return section;
}

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;

/** The Config the sections make together: every section's fields. */
export type ConfigOf<T extends readonly ConfigSection[]> = Intersection<
  ReturnType<T[number]['resolve']>
>;

/** All the sections' settings in order; a key, variable or flag claimed twice is a programming error. */
export function settingsOf(sections: readonly ConfigSection[]): readonly Setting[] {
  const all = sections.flatMap((s) => s.settings);
  for (const field of ['key', 'env', 'flag'] as const) {
    const seen = new Set<string>();
    for (const s of all) {
      const name = s[field];
      if (name === undefined) continue;
      if (seen.has(name)) throw new Error(`two configuration settings have the ${field} ${name}`);
      seen.add(name);
    }
  }
  return all;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Resolves each section in order from the values read (sources.ts) and joins their fields, frozen. */
export function assemble<const T extends readonly ConfigSection[]>(
  sections: T,
  values: ReadonlyMap<string, unknown>,
  ctx: SectionContext,
): ConfigOf<T> {
  const config: Record<string, unknown> = {};
  for (const section of sections) {
    // The values were parsed by each setting's kind, so they have the types Values<S> says.
    const own = Object.fromEntries(
      section.settings.flatMap((s) => (values.has(s.key) ? [[s.key, values.get(s.key)]] : [])),
    ) as Values<typeof section.settings>;
    for (const [field, value] of Object.entries(section.resolve(own, ctx))) {
      if (Object.hasOwn(config, field))
        throw new Error(`two configuration sections make the field ${field}`);
      config[field] = value;
    }
  }
  return deepFreeze(config) as ConfigOf<T>;
}
