// The architecture lint: imports flow api -> service -> store|bus, never back (service -> api,
// store -> service/scheduler); only store modules and platform/db use Kysely, the table types and
// the store helpers (a service's src/<svc>/store/tables.ts also the composition root, src/cli/,
// which joins them); agents and drivers never reach the database; only src/host/ runs commands;
// services meet only through index.ts; no import cycles. Prints each violation with file and
// import, and exits 1 if there is any. `node scripts/lint-imports.ts [root]` lints root/src.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..'));
const SRC = join(ROOT, 'src');

const SERVICES = new Set([
  'identity',
  'image',
  'compute',
  'network',
  'volume',
  'object',
  'orchestration',
  'telemetry',
]);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]!);
}

const files = walk(SRC).filter((f) => !f.endsWith('.test.ts') && !f.endsWith('.contract.ts'));
const problems: string[] = [];
const graph = new Map<string, string[]>();

for (const file of files) {
  const rel = relative(SRC, file);
  const parts = rel.split('/');
  const service = SERVICES.has(parts[0]!) ? parts[0]! : null;
  // A service's layer: src/<svc>/<layer>/... (index.ts, model.ts and states.ts sit at the top).
  const layer = service && parts.length > 2 ? parts[1]! : null;
  const mayUseDatabaseTypes = layer === 'store' || rel.startsWith('platform/db/');
  const edges: string[] = [];
  for (const spec of importsOf(file)) {
    const bad = (why: string) => problems.push(`src/${rel}: imports ${spec}: ${why}`);
    if (spec === 'node:child_process' || spec === 'child_process') {
      if (parts[0] !== 'host') bad('only src/host/ may run commands');
      continue;
    }
    if (spec === 'kysely' || spec.startsWith('kysely/')) {
      if (!mayUseDatabaseTypes)
        bad(
          'only store modules (src/<service>/store/) and src/platform/db/ use Kysely; a service holds a DbHandle (platform/db/database.ts)',
        );
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = relative(SRC, resolve(dirname(file), spec));
    edges.push(target);
    const tparts = target.split('/');
    const inAgent = parts.includes('agent');
    if (
      inAgent &&
      (tparts.includes('store') || target.endsWith('store.ts') || target.startsWith('platform/db'))
    )
      bad('agents and drivers never touch the database');
    if (
      parts.includes('api') &&
      (tparts.includes('store') ||
        target.endsWith('store.ts') ||
        target.startsWith('platform/db/database'))
    )
      bad('api code goes through the service, not the store');
    if (
      (target === 'platform/db/schema.ts' || target === 'platform/db/store-helpers.ts') &&
      !mayUseDatabaseTypes
    )
      bad('only store modules and src/platform/db/ use the table types and store helpers');
    const tservice = SERVICES.has(tparts[0]!) ? tparts[0]! : null;
    const tlayer = tservice && tparts.length > 2 ? tparts[1]! : null;
    // A service's tables type: its stores name it, and the composition root joins them all.
    if (
      tlayer === 'store' &&
      tparts.at(-1) === 'tables.ts' &&
      !mayUseDatabaseTypes &&
      parts[0] !== 'cli'
    )
      bad("only store modules and the composition root (src/cli/) use a service's table types");
    if (layer === 'service' && tservice === service && tlayer === 'api')
      bad('a service never imports its api (data flows api -> service)');
    if (
      layer === 'store' &&
      tservice === service &&
      (tlayer === 'service' || tlayer === 'scheduler')
    )
      bad('a store never imports its service or scheduler (data flows service -> store)');
    if (service && tservice && tservice !== service && tparts.slice(1).join('/') !== 'index.ts')
      bad(`services meet only through src/${tservice}/index.ts`);
    if (parts[0] === 'platform' && tservice) bad('platform code must not depend on a service');
  }
  graph.set(rel, edges);
}

// Cycle detection (depth-first, three colours).
const state = new Map<string, 1 | 2>();
const stack: string[] = [];
function visit(n: string): void {
  state.set(n, 1);
  stack.push(n);
  for (const m of graph.get(n) ?? []) {
    if (!graph.has(m)) continue;
    if (state.get(m) === 1)
      problems.push(
        `import cycle: ${[...stack.slice(stack.indexOf(m)), m].map((x) => `src/${x}`).join(' -> ')}`,
      );
    else if (!state.has(m)) visit(m);
  }
  stack.pop();
  state.set(n, 2);
}
for (const n of graph.keys()) if (!state.has(n)) visit(n);

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`lint: ${p}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`lint: ${files.length} files, imports follow the architecture\n`);
}
