// Keeps docs/errors.md and the error codes the code can produce in step. A static scan of src/
// finds every code: the code argument of each NubesError-family constructor (`new X(...)`, and the
// `super(...)` of subclasses such as BusTimeout), a fault object's `code: '...'`, and the Fastify
// codes faults.ts names. The test fails naming each code missing from the catalogue, each
// catalogued code nothing produces, each status the table does not give, and each code it cannot
// read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const SERVICES = new Set(['identity', 'image', 'compute']);

/** Where a family's constructor takes its code and status, and its code when none is given. */
interface ErrorClass {
  readonly codeArg: number;
  readonly defaultCode?: string;
  readonly status?: number;
  readonly statusArg?: number;
}

export interface Produced {
  readonly code: string;
  readonly status: number | null;
  readonly where: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.contract.ts') ? [p] : [];
  });
}

/** Blanks comments (keeping offsets and newlines) so a commented-out throw does not count. */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      const j = skipString(text, i);
      out += text.slice(i, j);
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The index just past the string literal (or template) opening at `i`. */
function skipString(text: string, i: number): number {
  const q = text[i]!;
  let j = i + 1;
  while (j < text.length && text[j] !== q) {
    if (text[j] === '\\') j += 2;
    else if (q === '`' && text[j] === '$' && text[j + 1] === '{') j = skipGroup(text, j + 1);
    else j++;
  }
  return j + 1;
}

/** The index just past the bracket group opening at `i` ( ( [ or { ), strings respected. */
function skipGroup(text: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const c = text[j]!;
    if (c === "'" || c === '"' || c === '`') {
      j = skipString(text, j);
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return j;
}

/** The top-level arguments of the call whose '(' is at `open`, as source text. */
function callArgs(text: string, open: number): string[] {
  const end = skipGroup(text, open) - 1;
  const args: string[] = [];
  let start = open + 1;
  let j = start;
  while (j < end) {
    const c = text[j]!;
    if (c === "'" || c === '"' || c === '`') j = skipString(text, j);
    else if (c === '(' || c === '[' || c === '{') j = skipGroup(text, j);
    else if (c === ',') {
      args.push(text.slice(start, j).trim());
      start = ++j;
    } else j++;
  }
  const last = text.slice(start, end).trim();
  if (last !== '') args.push(last);
  return args;
}

const LITERAL = /^'([a-z0-9_]+)'$|^"([a-z0-9_]+)"$/;

/** The codes an argument can be: one literal, or a conditional choosing between literals. */
function literalCodes(arg: string): string[] | null {
  const one = LITERAL.exec(arg);
  if (one) return [one[1] ?? one[2]!];
  const cond = /^[^'"`?]+\?\s*('[a-z0-9_]+')\s*:\s*('[a-z0-9_]+')$/.exec(arg);
  if (cond) return [cond[1]!.slice(1, -1), cond[2]!.slice(1, -1)];
  return null;
}

/** The error families of platform/errors.ts, read from their constructors. */
function baseClasses(): Map<string, ErrorClass> {
  const text = readFileSync(join(ROOT, 'src/platform/errors.ts'), 'utf8');
  const classes = new Map<string, ErrorClass>([['NubesError', { codeArg: 0, statusArg: 1 }]]);
  const re =
    /class (\w+) extends NubesError \{\s*constructor\(message: string, code = '([a-z_]+)'[^)]*\) \{\s*super\(code, (\d{3}), message/g;
  for (const m of text.matchAll(re))
    classes.set(m[1]!, { codeArg: 1, defaultCode: m[2]!, status: Number(m[3]) });
  return classes;
}

export function producedCodes(): { produced: Produced[]; unreadable: string[] } {
  const classes = baseClasses();
  const files = sourceFiles(join(ROOT, 'src')).map((f) => ({
    rel: relative(ROOT, f),
    text: stripComments(readFileSync(f, 'utf8')),
  }));
  const produced: Produced[] = [];
  const unreadable: string[] = [];
  const lineOf = (text: string, at: number) => text.slice(0, at).split('\n').length;

  /** Records the codes of one constructor call; `resolve` reads a non-literal code argument. */
  const record = (
    cls: ErrorClass,
    args: string[],
    where: string,
    resolve: (arg: string) => string[] | null = () => null,
  ) => {
    const codeArg = args[cls.codeArg];
    // An error rebuilt from one received over the bus passes on that error's code (e.code).
    if (codeArg !== undefined && /^\w+\.code$/.test(codeArg)) return;
    const codes =
      codeArg === undefined ? [cls.defaultCode!] : (literalCodes(codeArg) ?? resolve(codeArg));
    if (!codes) {
      unreadable.push(`${where}: code argument ${codeArg}`);
      return;
    }
    let status = cls.status ?? null;
    if (cls.statusArg !== undefined) {
      status = Number(args[cls.statusArg]);
      if (!Number.isInteger(status)) {
        unreadable.push(`${where}: status argument ${args[cls.statusArg]}`);
        status = null;
      }
    }
    for (const code of codes) produced.push({ code, status, where });
  };

  /**
   * A code argument naming a parameter of the function around the call (a small factory such as
   * `notFound(kind, id)` or `invalidData(message, code)`): the codes are read from that function's
   * calls in the same file, literal arguments substituted into a template like `${kind}_not_found`.
   */
  const throughWrapper = (rel: string, text: string, at: number) => (arg: string) => {
    const names = arg.startsWith('`')
      ? [...arg.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!)
      : /^\w+$/.test(arg)
        ? [arg]
        : [];
    if (names.length === 0) return null;
    const decls = [
      ...text.slice(0, at).matchAll(/(?:const (\w+) = \(|function (\w+)\()([^)]*)\)/g),
    ].reverse();
    const params = (list: string) =>
      list.split(',').map((p) => {
        const m = /^\s*(\w+)\??\s*(?::[^=]*)?(?:=\s*(.*))?$/.exec(p)!;
        return { name: m[1]!, fallback: m[2]?.trim() };
      });
    const decl = decls.find((d) => names.every((n) => params(d[3]!).some((p) => p.name === n)));
    if (!decl) return null;
    const name = decl[1] ?? decl[2]!;
    const ps = params(decl[3]!);
    const codes: string[] = [];
    for (const call of text.matchAll(new RegExp(`(?<![\\w.])${name}\\(`, 'g'))) {
      if (call.index === decl.index! + decl[0].indexOf(name)) continue;
      const args = callArgs(text, call.index + call[0].length - 1);
      const value = (n: string) => {
        const i = ps.findIndex((p) => p.name === n);
        const a = args[i] ?? ps[i]!.fallback;
        return a === undefined
          ? null
          : (LITERAL.exec(a)
              ?.slice(1)
              .find((x) => x) ?? null);
      };
      let code: string | null = arg;
      if (arg.startsWith('`')) {
        for (const n of names)
          code = value(n) === null ? null : code!.replaceAll(`\${${n}}`, value(n)!);
        code = code === null ? null : code.slice(1, -1);
      } else code = value(arg);
      if (code === null) {
        unreadable.push(`${rel}:${lineOf(text, call.index)}: code argument of ${name}()`);
        continue;
      }
      codes.push(code);
    }
    return codes.length > 0 ? codes : null;
  };

  // Subclasses outside errors.ts (BusTimeout, HostCommandFailed, ...): their super() call is the
  // constructor call that names the code. Repeat until no new subclass (of those) turns up.
  for (let grew = true; grew;) {
    grew = false;
    for (const { rel, text } of files)
      for (const m of text.matchAll(/class (\w+) extends (\w+) \{/g)) {
        const parent = classes.get(m[2]!);
        if (!parent || classes.has(m[1]!)) continue;
        classes.set(m[1]!, { codeArg: -1 });
        const sup = text.indexOf('super(', m.index);
        if (sup < 0) {
          unreadable.push(`${rel}: class ${m[1]} has no super() call to read`);
          continue;
        }
        record(parent, callArgs(text, sup + 5), `${rel}:${lineOf(text, sup)}`);
        grew = true;
      }
  }

  for (const { rel, text } of files) {
    for (const m of text.matchAll(/\bnew (\w+)\(/g)) {
      const cls = classes.get(m[1]!);
      // codeArg -1: a subclass with a fixed code, already read from its super() call.
      if (!cls || cls.codeArg < 0) continue;
      const open = m.index + m[0].length - 1;
      record(
        cls,
        callArgs(text, open),
        `${rel}:${lineOf(text, open)}`,
        throughWrapper(rel, text, m.index),
      );
    }
    // Fault objects built without an error (faults.ts, a bus reply for a foreign throw); their
    // status sits beside the code in the same object literal.
    for (const m of text.matchAll(/\bcode: '([a-z_]+)'/g)) {
      const near = text.slice(Math.max(0, m.index - 120), m.index + 120);
      const status = /\bstatus: (\d{3})/.exec(near);
      produced.push({
        code: m[1]!,
        status: status ? Number(status[1]) : null,
        where: `${rel}:${lineOf(text, m.index)}`,
      });
    }
    // Fastify's own codes that the fault mapper names.
    for (const m of text.matchAll(/'(FST_ERR_[A-Z_]+)'/g))
      produced.push({ code: m[1]!, status: null, where: `${rel}:${lineOf(text, m.index)}` });
  }
  return { produced, unreadable };
}

/** A row of docs/errors.md: its section's service (or 'common'), and the statuses it gives. */
interface Entry {
  readonly section: string;
  readonly statuses: readonly number[];
}

/**
 * docs/errors.md's tables: each backquoted code in a row's first column, with the statuses of its
 * second. A section headed "## Identity ..." holds identity's codes, "## Every API" the common
 * ones.
 */
export function catalogue(): Map<string, Entry[]> {
  const text = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const codes = new Map<string, Entry[]>();
  let section = 'common';
  for (const line of text.split('\n')) {
    const heading = /^## (\w+)/.exec(line);
    if (heading)
      section = SERVICES.has(heading[1]!.toLowerCase()) ? heading[1]!.toLowerCase() : 'common';
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1]!.startsWith('`')) continue;
    const statuses = [...cells[2]!.matchAll(/\b(\d{3})\b/g)].map((m) => Number(m[1]));
    for (const m of cells[1]!.matchAll(/`([^`]+)`/g))
      codes.set(m[1]!, [...(codes.get(m[1]!) ?? []), { section, statuses }]);
  }
  return codes;
}

/** The service whose section must list a code produced at `where` (src/<service>/...), if any. */
function serviceOf(where: string): string | null {
  const dir = where.split('/')[1]!;
  return SERVICES.has(dir) ? dir : null;
}

/** The rows that cover a code produced at `where`: its service's section or the common one. */
function rowsFor(documented: Map<string, Entry[]>, p: Produced): Entry[] {
  const svc = serviceOf(p.where);
  return (documented.get(p.code) ?? []).filter(
    (e) => e.section === 'common' || svc === null || e.section === svc,
  );
}

describe('docs/errors.md', () => {
  const { produced, unreadable } = producedCodes();
  const documented = catalogue();

  it('can read the code of every error the code constructs', () => {
    assert.deepEqual(unreadable, [], 'give these a string literal code the scan can read');
  });

  it("lists every code the code can produce, in its service's section or the common one", () => {
    const missing = produced
      .filter((p) => rowsFor(documented, p).length === 0)
      .map((p) => `${p.code} (${p.where})`);
    assert.deepEqual([...new Set(missing)].sort(), [], 'add these codes to docs/errors.md');
  });

  it('lists only codes the code produces', () => {
    const made = new Set(produced.map((p) => p.code));
    const stale = [...documented.keys()].filter((c) => !made.has(c)).sort();
    assert.deepEqual(stale, [], 'nothing produces these documented codes');
  });

  it('gives the status each code is produced with', () => {
    const wrong = produced
      .filter((p) => p.status !== null)
      .filter((p) => {
        const rows = rowsFor(documented, p);
        return rows.length > 0 && !rows.some((e) => e.statuses.includes(p.status!));
      })
      .map(
        (p) =>
          `${p.code} is ${p.status} at ${p.where}, docs say ${rowsFor(documented, p)
            .map((e) => `${e.statuses.join('/')} (${e.section})`)
            .join(', ')}`,
      );
    assert.deepEqual([...new Set(wrong)], [], 'fix the status column of docs/errors.md');
  });
});
