// Where Nubes keeps files when the configuration does not say: system directories for root, the
// XDG base directories otherwise.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/lib/nubes';
  return join(env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'nubes');
}

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/var/cache/nubes';
  return join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'nubes');
}
