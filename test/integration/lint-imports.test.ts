// The architecture lint (scripts/lint-imports.ts) run on small trees made here: a clean tree
// passes, and each layering rule fails on one planted import, naming the file and the import.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const LINT = new URL('../../scripts/lint-imports.ts', import.meta.url).pathname;

/** A tree that follows the rules: api -> service -> store, Kysely and the table types only in the
 * store (and the composition root joining the tables). */
const CLEAN: Readonly<Record<string, string>> = {
  'src/platform/db/database.ts': "import { Kysely } from 'kysely';\nexport type DbHandle = {};\n",
  'src/platform/db/schema.ts': 'export interface PlatformTables {}\n',
  'src/platform/db/store-helpers.ts': "import type { Kysely } from 'kysely';\n",
  'src/image/store/tables.ts':
    "import type { Executor } from '../../platform/db/store-helpers.ts';\nimport type { PlatformTables } from '../../platform/db/schema.ts';\n",
  'src/image/store/images.ts':
    "import type { Kysely } from 'kysely';\nimport type { ImageExecutor } from './tables.ts';\n",
  'src/cli/tables.ts': "import type { ImageTables } from '../image/store/tables.ts';\n",
  'src/image/service/images.ts':
    "import type { DbHandle } from '../../platform/db/database.ts';\nimport * as images from '../store/images.ts';\n",
  'src/image/api/routes.ts': "import { createImages } from '../service/images.ts';\n",
  'src/image/index.ts': "export { createImages } from './service/images.ts';\n",
};

async function lint(
  plant: Readonly<Record<string, string>>,
): Promise<{ code: number; stderr: string }> {
  const root = mkdtempSync(join(tmpdir(), 'nubes-lint-'));
  try {
    for (const [path, text] of Object.entries({ ...CLEAN, ...plant })) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    try {
      await promisify(execFile)(process.execPath, [LINT, root]);
      return { code: 0, stderr: '' };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, stderr: err.stderr };
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('scripts/lint-imports.ts', () => {
  it('passes a tree that follows the layers', async () => {
    assert.deepEqual(await lint({}), { code: 0, stderr: '' });
  });

  const cases: readonly [string, Record<string, string>, RegExp][] = [
    [
      'a service importing its api',
      { 'src/image/service/images.ts': "import { view } from '../api/routes.ts';\n" },
      /src\/image\/service\/images\.ts: imports \.\.\/api\/routes\.ts: a service never imports its api/,
    ],
    [
      'a store importing its service',
      { 'src/image/store/images.ts': "import { createImages } from '../service/images.ts';\n" },
      /src\/image\/store\/images\.ts: imports \.\.\/service\/images\.ts: a store never imports its service/,
    ],
    [
      'a store importing its scheduler',
      { 'src/compute/store/claims.ts': "import type { Host } from '../scheduler/filters.ts';\n" },
      /src\/compute\/store\/claims\.ts: imports \.\.\/scheduler\/filters\.ts: a store never imports/,
    ],
    [
      'a service importing Kysely types',
      { 'src/image/service/images.ts': "import type { Kysely } from 'kysely';\n" },
      /src\/image\/service\/images\.ts: imports kysely: only store modules/,
    ],
    [
      'a compute service importing Kysely types',
      { 'src/compute/service/servers.ts': "import type { Kysely } from 'kysely';\n" },
      /src\/compute\/service\/servers\.ts: imports kysely: only store modules/,
    ],
    [
      "a service importing its service's table types",
      { 'src/image/service/images.ts': "import type { ImageTables } from '../store/tables.ts';\n" },
      /src\/image\/service\/images\.ts: imports \.\.\/store\/tables\.ts: only store modules and the composition root/,
    ],
    [
      "a store importing another service's table types",
      {
        'src/compute/store/claims.ts':
          "import type { IdentityTables } from '../../identity/store/tables.ts';\n",
      },
      /src\/compute\/store\/claims\.ts: imports \.\.\/\.\.\/identity\/store\/tables\.ts: services meet only through/,
    ],
    [
      'a service index importing Kysely',
      { 'src/image/index.ts': "import { sql } from 'kysely';\n" },
      /src\/image\/index\.ts: imports kysely: only store modules/,
    ],
    [
      'a service importing the table types',
      { 'src/image/service/images.ts': "import type { DB } from '../../platform/db/schema.ts';\n" },
      /src\/image\/service\/images\.ts: imports \.\.\/\.\.\/platform\/db\/schema\.ts: only store modules/,
    ],
  ];
  for (const [name, plant, message] of cases) {
    it(`refuses ${name}`, async () => {
      const r = await lint(plant);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
    });
  }
});
