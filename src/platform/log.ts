// Logging: pino, JSON lines. Composition roots create the root logger; everything else takes a
// Logger (or a child carrying ids) as a dependency.
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import { LOG_REDACT_PATHS, REDACTED } from './log-redact.ts';

export type Logger = PinoLogger;

export function createLogger(
  opts: { level?: LevelWithSilent; destination?: number | string } = {},
): Logger {
  const dest = pino.destination({ dest: opts.destination ?? 1, sync: false });
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
