// docs/configuration.md's table and the settings the program reads stay in step: one row per
// setting with its YAML key, environment variable and flag, and no row for a setting that is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SETTINGS } from './config.ts';

const DOC = new URL('../../docs/configuration.md', import.meta.url);

/** The settings table's rows (the table under "| YAML key |"): [key, env, flag], backquotes off. */
function rows(): string[][] {
  const lines = readFileSync(DOC, 'utf8').split('\n');
  const header = lines.findIndex((l) => l.startsWith('| YAML key |'));
  assert.ok(header >= 0, 'docs/configuration.md has its settings table');
  const end = lines.findIndex((l, i) => i > header && !l.startsWith('|'));
  return lines.slice(header + 2, end).map((l) =>
    l
      .split('|')
      .slice(1, 4)
      .map((c) => c.trim().replace(/^`|`$/g, '')),
  );
}

test('every setting has its row in docs/configuration.md, with its variable and flag', () => {
  const table = rows();
  for (const s of SETTINGS) {
    const row = table.find((r) => r[0] === s.key);
    assert.ok(row, `docs/configuration.md has no row for ${s.key}`);
    assert.deepEqual(row, [s.key, s.env, s.flag ?? ''], `the row of ${s.key}`);
  }
});

test('docs/configuration.md documents no setting the program does not read', () => {
  const keys = new Set(SETTINGS.map((s) => s.key));
  const table = rows();
  assert.deepEqual(
    table.filter((r) => !keys.has(r[0]!)).map((r) => r[0]),
    [],
  );
  assert.equal(table.length, SETTINGS.length, 'one row per setting');
});
