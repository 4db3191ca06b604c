// The scheme://host[:port] URLs clients and browsers reach a listener at: the default one for a
// listener, and the check that a configured one has no path.
import { ConfigError, type Listen } from './setting.ts';

/** http://<listen>, with 127.0.0.1 for a listener on all addresses (0.0.0.0 or ::). */
export function urlOfListener(listen: Listen): string {
  const reachable = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${listen.port}`;
}

/** The URL without trailing slashes; a ConfigError naming `key` when it has a path. */
export function baseUrl(key: string, url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(trimmed))
    throw new ConfigError(`${key} must be scheme://host[:port] with no path, got ${trimmed}`);
  return trimmed;
}
