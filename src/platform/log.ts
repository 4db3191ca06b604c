// Logging: pino, JSON lines. Composition roots create the root logger; everything else takes a
// Logger (or a child carrying ids) as a dependency.
import { chmodSync, existsSync, statSync } from 'node:fs';
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import { LOG_REDACT_PATHS, REDACTED } from './log-redact.ts';

export type Logger = PinoLogger;

export function createLogger(
  opts: { level?: LevelWithSilent; destination?: number | string } = {},
): Logger {
  const to = opts.destination ?? 1;
  // A log file says who did what and with which ids: owner-only, also when an older one was not.
  if (typeof to === 'string' && existsSync(to)) chmodSync(to, statSync(to).mode & 0o700);
  const dest = pino.destination({ dest: to, sync: false, mode: 0o600 });
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'nubes' },
      redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
    },
    dest,
  );
}

/** A logger that drops everything, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
