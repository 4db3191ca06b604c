// What never reaches a log: secrets in URLs (console tokens, passwords, signatures) and in the
// fields of logged objects (X-Auth-Token, X-Subject-Token, passwords). Every line that logs a URL
// passes it through redactUrl; createLogger applies LOG_REDACT_PATHS to every line.

/** The mark put where a secret was. */
export const REDACTED = '***';

// Query parameters whose value is a secret: console tokens (`token`), Swift temp URLs
// (`temp_url_sig`), S3 presigned URLs (`X-Amz-Signature`, `X-Amz-Credential`,
// `X-Amz-Security-Token`, `Signature`), and anything named like a password, secret or key (not
// `sort_key` or `key_name`, which are not).
const SECRET_PARAM =
  /token|passw|secret|signature|credential|(^|[_-])sig$|^key$|(access|api|private)[_-]?key|authorization/i;
// user:password@ in a URL held in a value (a database or bus URL given back in a query).
const USERINFO = /(\/\/[^/?#@\s:]*:)[^/?#@\s]*@/g;

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

/**
 * The URL (or path with a query) with every secret replaced by `***`: the values of secret-named
 * query parameters, the password of any `user:password@`, and the same inside a parameter whose
 * value is itself a URL or query (noVNC's `path=websockify%3Ftoken%3D...`).
 */
export function redactUrl(url: string, depth = 0): string {
  const q = url.indexOf('?');
  const head = url.slice(0, q < 0 ? url.length : q).replace(USERINFO, `$1${REDACTED}@`);
  if (q < 0) return head;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const key = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (SECRET_PARAM.test(decode(key))) return `${key}=${REDACTED}`;
      const inner = decode(value);
      // A value that holds a query or a URL of its own is redacted in its turn (bounded depth).
      if (depth < 3 && (inner.includes('?') || inner.includes('=') || inner.includes('@'))) {
        const cleaned = redactUrl(inner, depth + 1);
        if (cleaned !== inner) return `${key}=${encodeURIComponent(cleaned)}`;
      }
      return pair;
    })
    .join('&');
  return `${head}?${query}`;
}

// Headers that carry credentials, wherever a headers object is logged (one level down covers
// `req.headers`, `err.headers`, `request.headers`), and fields named as secrets.
const SECRET_HEADERS = ['x-auth-token', 'x-subject-token', 'authorization', 'cookie', 'set-cookie'];
const SECRET_FIELDS = ['password', 'token', 'secret', 'adminPassword'];

/** pino `redact` paths applied by createLogger. */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
];
