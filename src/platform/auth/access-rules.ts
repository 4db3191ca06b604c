// Application credential access rules, as Keystone defines them: a token from a credential with
// rules may make only the requests one rule names by service type, method and path template.
// This file only matches; the HTTP hook (platform/http/auth-hook.ts) applies it to every service.

export const ACCESS_RULE_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT'] as const;
export type AccessRuleMethod = (typeof ACCESS_RULE_METHODS)[number];

export interface AccessRule {
  readonly id: string;
  /** The service type of the catalog ('compute', 'image', 'identity', ...). */
  readonly service: string;
  readonly method: AccessRuleMethod;
  /** A path below the service's root: `*` and `{name}` match one segment, `**` any tail. */
  readonly path: string;
}

/** One request as the rules see it: the path is below the service's mount prefix, without query. */
export interface RuleRequest {
  readonly service: string;
  readonly method: string;
  readonly path: string;
}

const TOKEN = /(\{[^}]*\})|(\*\*)|(\*)|([^{}*]+)/g;
const compiled = new Map<string, RegExp>();

/** The template as an anchored expression; literal text matches only itself. */
function compile(template: string): RegExp {
  let re = compiled.get(template);
  if (re) return re;
  let src = '';
  for (const m of template.matchAll(TOKEN)) {
    if (m[1] !== undefined || m[3] !== undefined) src += '[^/]+';
    else if (m[2] !== undefined) src += '.*';
    else src += m[4]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  re = new RegExp(`^${src}$`, 's');
  // Templates come from a bounded set of credentials; the bound only stops a slow leak.
  if (compiled.size >= 4096) compiled.clear();
  compiled.set(template, re);
  return re;
}

/** Whether `path` fits `template` (Keystone's `*` = one segment, `**` = anything, `{x}` = one segment). */
export function pathMatches(path: string, template: string): boolean {
  return compile(template).test(path);
}

/** Whether one of `rules` allows the request; an empty list means the credential is unrestricted. */
export function allowedByAccessRules(rules: readonly AccessRule[], req: RuleRequest): boolean {
  if (rules.length === 0) return true;
  // A token may always be validated, whatever its rules (keystonemiddleware's exception).
  if (req.service === 'identity' && req.method === 'GET' && req.path.endsWith('/v3/auth/tokens'))
    return true;
  return rules.some(
    (r) =>
      r.service !== '' && // the stand-in for a stored rule that does not parse: matches nothing
      r.service === req.service &&
      r.method === req.method &&
      pathMatches(req.path, r.path),
  );
}
