// Issue 15, item 1: a data dir made beforehand as 0755 (mkdir -p, a package) left the database
// (token keys), its -wal/-shm and the log readable by every local user, who could forge admin
// tokens. `nubes up` now makes it and everything in it owner-only and says so; doctor flags one
// that is not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adminToken,
  ROOT,
  removeDir,
  startNubes,
  type NubesProcess,
} from '../support/nubes-process.ts';

/** Every entry below `dir` whose mode gives group or others any access. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const st = lstatSync(join(dir, name));
    if (!st.isSymbolicLink() && (st.mode & 0o077) !== 0)
      found.push(`${name} ${(st.mode & 0o7777).toString(8)}`);
  }
  return found;
}

function doctor(dataDir: string): Promise<string> {
  return new Promise((ok) =>
    execFile(
      join(ROOT, 'bin/nubes'),
      ['doctor', '--data-dir', dataDir],
      { timeout: 120_000 },
      (_err, stdout, stderr) => ok(stdout + stderr),
    ),
  );
}

describe('the data dir is owner-only whatever existed before', () => {
  let root: string;
  let dataDir: string;
  let nubes: NubesProcess;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'nubes-private-'));
    dataDir = join(root, 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    nubes = await startNubes({ dataDir });
  });
  after(async () => {
    await nubes.stop().catch(() => undefined);
    removeDir(root);
  });

  it('nubes up tightens a 0755 data dir and says so', async () => {
    assert.match(
      nubes.output(),
      new RegExp(`the data dir ${dataDir} was readable by other users: it was 0755, now 0700`),
    );
    assert.equal(lstatSync(dataDir).mode & 0o7777, 0o700);
  });

  it('everything it writes there is owner-only: database, -wal, -shm, log, keys, clouds.yaml', async () => {
    // A password authentication writes to the database (and so to its WAL).
    const password = readFileSync(join(dataDir, 'admin-password'), 'utf8').trim();
    await adminToken(nubes.url, password);
    const names = readdirSync(dataDir);
    for (const f of ['nubes.db', 'nubes.db-wal', 'nubes.db-shm', 'nubes.log', 'clouds.yaml'])
      assert.ok(names.includes(f), `${f} in ${names.join(' ')}`);
    assert.deepEqual(openToOthers(dataDir), []);
    assert.equal(await nubes.stop(), 0);
    assert.deepEqual(openToOthers(dataDir), []);
  });

  it('nubes doctor says no to a database others can read', async () => {
    chmodSync(join(dataDir, 'nubes.db'), 0o644);
    const out = await doctor(dataDir);
    assert.match(out, /^data dir mode +no +others may read or write nubes\.db \(0644\)/m);
    assert.match(out, new RegExp(`^ +data dir mode +chmod -R go-rwx ${dataDir}`, 'm'));
  });
});
