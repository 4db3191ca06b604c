// Parses oslo.policy rule strings ("role:admin or (role:reader and system_scope:all)") into a
// tree, so operators can override rules in the syntax they already know from OpenStack.
// Parsing only; evaluation lives in policy.ts.

export type RuleNode =
  | { readonly kind: 'true' }
  | { readonly kind: 'false' }
  | { readonly kind: 'and'; readonly items: readonly RuleNode[] }
  | { readonly kind: 'or'; readonly items: readonly RuleNode[] }
  | { readonly kind: 'not'; readonly item: RuleNode }
  | { readonly kind: 'rule'; readonly name: string }
  | { readonly kind: 'role'; readonly role: string }
  /** `left:right`: a credential attribute compared with a target value or a literal. */
  | { readonly kind: 'generic'; readonly left: string; readonly right: string };

export class RuleSyntaxError extends Error {
  constructor(rule: string, why: string) {
    super(`policy rule ${JSON.stringify(rule)}: ${why}`);
    this.name = 'RuleSyntaxError';
  }
}

/** Like oslo.policy: split on whitespace, then peel parentheses off the ends of each chunk, so a
 * `%(target.id)s` inside a check stays whole. */
function tokenize(rule: string): string[] {
  const tokens: string[] = [];
  for (let chunk of rule.split(/\s+/).filter(Boolean)) {
    const trailing: string[] = [];
    while (chunk.startsWith('(')) {
      tokens.push('(');
      chunk = chunk.slice(1);
    }
    while (chunk.endsWith(')')) {
      trailing.push(')');
      chunk = chunk.slice(0, -1);
    }
    if (chunk) tokens.push(chunk);
    tokens.push(...trailing);
  }
  return tokens;
}

export function parseRule(rule: string): RuleNode {
  const tokens = tokenize(rule);
  if (tokens.length === 0) return { kind: 'true' };
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];

  function parseOr(): RuleNode {
    const items = [parseAnd()];
    while (peek()?.toLowerCase() === 'or') {
      next();
      items.push(parseAnd());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }
  function parseAnd(): RuleNode {
    const items = [parseNot()];
    while (peek()?.toLowerCase() === 'and') {
      next();
      items.push(parseNot());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }
  function parseNot(): RuleNode {
    if (peek()?.toLowerCase() === 'not') {
      next();
      return { kind: 'not', item: parseNot() };
    }
    return parseAtom();
  }
  function parseAtom(): RuleNode {
    const t = next();
    if (t === undefined) throw new RuleSyntaxError(rule, 'unexpected end');
    if (t === '(') {
      const inner = parseOr();
      if (next() !== ')') throw new RuleSyntaxError(rule, 'missing )');
      return inner;
    }
    if (t === '@') return { kind: 'true' };
    if (t === '!') return { kind: 'false' };
    const colon = t.indexOf(':');
    if (colon <= 0)
      throw new RuleSyntaxError(rule, `expected kind:match, got ${JSON.stringify(t)}`);
    const kind = t.slice(0, colon);
    const match = t.slice(colon + 1);
    if (kind === 'rule') return { kind: 'rule', name: match };
    if (kind === 'role') return { kind: 'role', role: match.toLowerCase() };
    return { kind: 'generic', left: kind, right: match };
  }

  const tree = parseOr();
  if (pos !== tokens.length)
    throw new RuleSyntaxError(rule, `unexpected ${JSON.stringify(tokens[pos])}`);
  return tree;
}
