// Making a directory owner-only: what inspectPrivateDir finds open to others, and what
// makePrivateDir changes (the directory, everything below it, never through a symbolic link).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectPrivateDir, makePrivateDir, NotOwner } from './private-dir.ts';

const modeOf = (p: string) => statSync(p).mode & 0o7777;

function openTree(): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'nubes-private-'));
  const dir = join(root, 'data');
  mkdirSync(join(dir, 'images'), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'images'), 0o755);
  writeFileSync(join(dir, 'nubes.db'), 'keys');
  chmodSync(join(dir, 'nubes.db'), 0o644);
  writeFileSync(join(dir, 'images', 'a'), 'x');
  chmodSync(join(dir, 'images', 'a'), 0o664);
  writeFileSync(join(root, 'outside'), 'y');
  chmodSync(join(root, 'outside'), 0o644);
  symlinkSync(join(root, 'outside'), join(dir, 'link'));
  return { root, dir };
}

describe('private data dir', () => {
  it('finds the directory and the entries others may reach', () => {
    const { root, dir } = openTree();
    try {
      const r = inspectPrivateDir(dir);
      assert.equal(r.mode, 0o755);
      assert.deepEqual(r.loose.map((l) => [l.path.slice(dir.length + 1), l.mode]).sort(), [
        ['images', 0o755],
        ['images/a', 0o664],
        ['nubes.db', 0o644],
      ]);
      assert.equal(r.scanned, 4);
      assert.equal(inspectPrivateDir(join(root, 'none')).exists, false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes the group/other bits away below it, and leaves what a link points at', () => {
    const { root, dir } = openTree();
    try {
      const t = makePrivateDir(dir);
      assert.deepEqual(t, { dirWas: 0o755, entries: 3, created: false });
      assert.equal(modeOf(dir), 0o700);
      assert.equal(modeOf(join(dir, 'images')), 0o700);
      assert.equal(modeOf(join(dir, 'nubes.db')), 0o600);
      assert.equal(modeOf(join(dir, 'images', 'a')), 0o600);
      assert.equal(modeOf(join(root, 'outside')), 0o644);
      assert.deepEqual(inspectPrivateDir(dir).loose, []);
      assert.deepEqual(makePrivateDir(dir), { dirWas: null, entries: 0, created: false });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('creates a missing one 0700 whatever the umask', () => {
    const root = mkdtempSync(join(tmpdir(), 'nubes-private-'));
    const old = process.umask(0o022);
    try {
      const t = makePrivateDir(join(root, 'a', 'b'));
      assert.deepEqual(t, { dirWas: null, entries: 0, created: true });
      assert.equal(modeOf(join(root, 'a', 'b')), 0o700);
    } finally {
      process.umask(old);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses another user's directory, saying what to do", (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to give a directory to another user');
    const root = mkdtempSync(join(tmpdir(), 'nubes-private-'));
    try {
      chownSync(root, 4242, 4242);
      assert.throws(
        () => makePrivateDir(root),
        (e: unknown) =>
          e instanceof NotOwner &&
          e.message.includes('belongs to uid 4242, not to this user (uid 0)') &&
          e.message.includes(`chown -R 0 ${root}`),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('private data dir behind a link', () => {
  it('follows a link that is the data dir itself', () => {
    const root = mkdtempSync(join(tmpdir(), 'nubes-private-'));
    try {
      mkdirSync(join(root, 'real'));
      chmodSync(join(root, 'real'), 0o755);
      symlinkSync(join(root, 'real'), join(root, 'data'));
      assert.equal(makePrivateDir(join(root, 'data')).dirWas, 0o755);
      assert.equal(modeOf(join(root, 'real')), 0o700);
      assert.equal(inspectPrivateDir(join(root, 'data')).mode, 0o700);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
