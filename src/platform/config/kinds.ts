// The parsers of the setting kinds: a raw value from the YAML file (any type) or from env and flags
// (a string) becomes the kind's value, or a ConfigError naming the setting and where it came from.
import { isIP } from 'node:net';
import { ConfigError, LOG_LEVELS, type Setting } from './setting.ts';

/** "a", "a or b", "a, b or c" */
function alternatives(words: readonly string[]): string {
  return words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

export function parseValue(s: Setting, raw: unknown, from: string): unknown {
  const kind = s.kind;
  if (typeof kind === 'object') {
    if (typeof raw !== 'string' || !kind.oneOf.includes(raw))
      throw new ConfigError(
        `${s.key} (${from}) must be ${alternatives(kind.oneOf)}, got ${JSON.stringify(raw)}`,
      );
    return raw;
  }
  switch (kind) {
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
    case 'switch':
      if (raw === true || raw === 'on' || raw === 'true') return true;
      if (raw === false || raw === 'off' || raw === 'false') return false;
      throw new ConfigError(`${s.key} (${from}) must be on or off, got ${JSON.stringify(raw)}`);
    case 'level': {
      const levels: readonly string[] = LOG_LEVELS;
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
