// What a setting is: its YAML key, environment variable, flag, help line and kind, and the typed
// values a section reads. Generic: no service's settings are named here.

/** A HOST:PORT listener; IPv6 hosts without their brackets. */
export interface Listen {
  readonly host: string;
  readonly port: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the string (or YAML) form of a setting is read; kinds.ts holds each one's parser. */
export type Kind =
  | 'string' // a non-empty string
  | 'int' // an integer above 0
  | 'count' // an integer of 0 or more
  | 'ratio' // a number above 0, at most 1000
  | 'ip' // an IPv4 or IPv6 address
  | 'listen' // HOST:PORT
  | 'level' // a log level
  | 'switch' // on|off (true|false)
  | { readonly oneOf: readonly [string, ...string[]] }; // one of these words

/** One setting: its YAML path, environment variable, flag, and how to read a string form of it. */
export interface Setting {
  readonly key: string;
  readonly env: string;
  readonly flag?: string;
  readonly help: string;
  readonly kind: Kind;
}

/** The value a kind parses to. */
export type KindValue<K extends Kind> = K extends 'string' | 'ip'
  ? string
  : K extends 'int' | 'count' | 'ratio'
    ? number
    : K extends 'switch'
      ? boolean
      : K extends 'listen'
        ? Listen
        : K extends 'level'
          ? LogLevel
          : K extends { readonly oneOf: readonly (infer O)[] }
            ? O
            : never;

/** The values given for a section's settings (file, env or flag), by YAML key; absent when none was. */
export type Values<S extends readonly Setting[]> = {
  readonly [E in S[number] as E['key']]?: KindValue<E['kind']>;
};

/** A bad value or file: the message names the setting and where it came from. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
