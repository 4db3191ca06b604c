// The one policy engine every service uses: named rules per API operation in oslo.policy syntax,
// defaults registered by each service, operator overrides from a YAML/JSON file. It decides; the
// caller throws. It never reads the database.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { Forbidden } from '../errors.ts';
import { parseRule, type RuleNode } from './rule-parser.ts';

/** What the policy knows about the caller (from the validated token). */
export interface Credentials {
  readonly user_id: string;
  readonly user_domain_id: string;
  readonly project_id: string | null;
  readonly project_domain_id: string | null;
  /** Set for domain-scoped tokens. */
  readonly domain_id: string | null;
  /** 'all' for system-scoped tokens. */
  readonly system_scope: 'all' | null;
  /** Role names, lower case, implied roles included. */
  readonly roles: readonly string[];
}

export type Target = Readonly<Record<string, unknown>>;

export interface PolicyRule {
  readonly name: string;
  readonly check: string;
  readonly description?: string;
}

function lookup(obj: unknown, path: string): unknown {
  if (obj && typeof obj === 'object' && path in obj) return (obj as Record<string, unknown>)[path];
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const INTERPOLATION = /^%\((.+)\)s$/;

export class Policy {
  readonly #rules = new Map<string, RuleNode>();
  readonly #source = new Map<string, string>();
  readonly #overridden = new Set<string>();

  /** Registers a service's defaults; an operator override of the same name wins. */
  register(rules: readonly PolicyRule[]): void {
    for (const r of rules) {
      if (this.#overridden.has(r.name)) continue;
      this.#rules.set(r.name, parseRule(r.check));
      this.#source.set(r.name, r.check);
    }
  }

  /** Applies operator overrides, e.g. from /etc/nubes/policy.yaml: `"identity:list_users": "role:admin"`. */
  override(rules: Readonly<Record<string, string>>): void {
    for (const [name, check] of Object.entries(rules)) {
      if (typeof check !== 'string')
        throw new Error(`policy override ${name}: the rule must be a string`);
      let parsed;
      try {
        parsed = parseRule(check);
      } catch (e) {
        throw new Error(`policy override ${name}: ${(e as Error).message}`);
      }
      this.#rules.set(name, parsed);
      this.#source.set(name, check);
      this.#overridden.add(name);
    }
  }

  /** Reads operator overrides (YAML or JSON); any problem is reported with the file's name. */
  loadOverrideFile(path: string): void {
    try {
      const doc = parseYaml(readFileSync(path, 'utf8')) as unknown;
      if (doc === null || doc === undefined) return;
      if (typeof doc !== 'object' || Array.isArray(doc))
        throw new Error('expected a mapping of rule names to rules');
      this.override(doc as Record<string, string>);
    } catch (e) {
      const why =
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'the file does not exist'
          : (e as Error).message;
      throw new Error(`policy file ${path}: ${why}`);
    }
  }

  ruleText(name: string): string | undefined {
    return this.#source.get(name);
  }

  check(action: string, creds: Credentials, target: Target = {}): boolean {
    const rule = this.#rules.get(action);
    // An operation nobody registered is denied: a missing default must not open anything.
    if (!rule) return false;
    return this.#eval(rule, creds, target, 0);
  }

  /** Throws Forbidden (Keystone's wording) when the caller may not do `action` on `target`. */
  enforce(action: string, creds: Credentials, target: Target = {}): void {
    if (!this.check(action, creds, target)) {
      throw new Forbidden(
        `You are not authorized to perform the requested action: ${action}.`,
        'policy_denied',
        { action },
      );
    }
  }

  #eval(node: RuleNode, creds: Credentials, target: Target, depth: number): boolean {
    if (depth > 32) throw new Error('policy rules nest too deeply (a rule: cycle?)');
    switch (node.kind) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'and':
        return node.items.every((n) => this.#eval(n, creds, target, depth + 1));
      case 'or':
        return node.items.some((n) => this.#eval(n, creds, target, depth + 1));
      case 'not':
        return !this.#eval(node.item, creds, target, depth + 1);
      case 'rule': {
        const r = this.#rules.get(node.name);
        return r !== undefined && this.#eval(r, creds, target, depth + 1);
      }
      case 'role':
        return creds.roles.includes(node.role);
      case 'generic':
        return this.#generic(node.left, node.right, creds, target);
    }
  }

  #generic(left: string, right: string, creds: Credentials, target: Target): boolean {
    const m = INTERPOLATION.exec(right);
    let expected: unknown;
    if (m) {
      expected = lookup(target, m[1]!);
      if (expected === undefined || expected === null) return false;
    } else if (right === 'True' || right === 'False') {
      expected = right === 'True';
    } else {
      expected = right.replace(/^'(.*)'$/, '$1');
    }
    // A quoted left side is a literal compared with the target value ('member':%(role.name)s).
    const quoted = /^'(.*)'$/.exec(left);
    const actual = quoted ? quoted[1] : lookup(creds, left);
    if (actual === undefined || actual === null) return false;
    if (typeof expected === 'boolean')
      return actual === expected || String(actual) === String(expected);
    return String(actual) === String(expected);
  }
}
