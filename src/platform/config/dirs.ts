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

/** Where a running `nubes up` notes itself (its data dir) for `nubes doctor`: a runtime directory,
 * emptied at boot, as the clouds it names are gone then. */
export function defaultRunDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return '/run/nubes';
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime) return join(runtime, 'nubes');
  return join(env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state'), 'nubes', 'run');
}
