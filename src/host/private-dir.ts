// Keeps a directory (the data dir) owner-only: finds what in it other users could read, write or
// enter (group/other bits), and takes those bits away. The data dir holds the token keys and the
// admin's credentials, so anything others can read there lets them forge tokens.
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** Group and other permission bits: what "owner-only" removes. */
export const OTHERS = 0o077;

export interface LooseEntry {
  readonly path: string;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
}

export interface PrivateDirReport {
  readonly exists: boolean;
  /** Owner uid of the directory itself; null when it does not exist. */
  readonly uid: number | null;
  /** Permission bits of the directory itself; null when it does not exist. */
  readonly mode: number | null;
  /** Entries below it (not the directory itself) with group/other bits, at most `limit` of them. */
  readonly loose: readonly LooseEntry[];
  /** Entries looked at below the directory. */
  readonly scanned: number;
  /** True when the walk stopped at `maxEntries` before seeing everything. */
  readonly truncated: boolean;
}

export const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

/**
 * Walks `dir` (never following symbolic links, whose own bits mean nothing) and calls `visit` on
 * every entry below it; stops after `maxEntries`. Returns how many were visited and whether it stopped.
 */
function walk(
  dir: string,
  maxEntries: number,
  visit: (path: string, st: Stats) => void,
): { scanned: number; truncated: boolean } {
  let scanned = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const at = pending.pop()!;
    let names: string[];
    try {
      names = readdirSync(at);
    } catch {
      continue; // gone meanwhile, or unreadable: nothing to see below it
    }
    for (const name of names) {
      if (scanned >= maxEntries) return { scanned, truncated: true };
      const path = join(at, name);
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      scanned++;
      if (st.isSymbolicLink()) continue;
      visit(path, st);
      if (st.isDirectory()) pending.push(path);
    }
  }
  return { scanned, truncated: false };
}

/** What in `dir` others may reach; reads only. */
export function inspectPrivateDir(
  dir: string,
  opts: { limit?: number; maxEntries?: number } = {},
): PrivateDirReport {
  let st: Stats;
  try {
    // The directory itself may be a link to the real one (/var/lib/nubes -> /srv/nubes).
    st = statSync(dir);
  } catch {
    return { exists: false, uid: null, mode: null, loose: [], scanned: 0, truncated: false };
  }
  const limit = opts.limit ?? 20;
  const loose: LooseEntry[] = [];
  const { scanned, truncated } = walk(dir, opts.maxEntries ?? 100_000, (path, s) => {
    if ((s.mode & OTHERS) !== 0 && loose.length < limit)
      loose.push({ path, mode: s.mode & 0o7777 });
  });
  return { exists: true, uid: st.uid, mode: st.mode & 0o7777, loose, scanned, truncated };
}

/** The data dir is someone else's: this process cannot make it private (its owner can always read it). */
export class NotOwner extends Error {
  readonly uid: number;
  constructor(dir: string, uid: number, self: number) {
    super(
      `the data dir ${dir} belongs to uid ${uid}, not to this user (uid ${self}): that user can read the token keys in it. ` +
        `Run nubes as its owner, give it to this user (chown -R ${self} ${dir}), or choose another --data-dir`,
    );
    this.name = 'NotOwner';
    this.uid = uid;
  }
}

export interface Tightened {
  /** The directory's mode before, when it was open to others (null: it was private, or new). */
  readonly dirWas: number | null;
  /** Entries below it whose group/other bits were removed. */
  readonly entries: number;
  readonly created: boolean;
}

/**
 * Creates `dir` as 0700, or makes an existing one and everything below it owner-only (mode &
 * ~0o077). Throws NotOwner when the directory belongs to another user, and the chmod error (EPERM)
 * when an entry below cannot be changed.
 */
export function makePrivateDir(dir: string, self = process.getuid?.() ?? 0): Tightened {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
  const st = statSync(dir);
  if (!st.isDirectory()) throw new Error(`the data dir ${dir} is not a directory`);
  if (st.uid !== self) throw new NotOwner(dir, st.uid, self);
  // mkdir's mode passes through the umask: set it whatever the umask was.
  let dirWas: number | null = null;
  if ((st.mode & OTHERS) !== 0) {
    if (!created) dirWas = st.mode & 0o7777;
    chmodSync(dir, st.mode & 0o7777 & ~OTHERS);
  }
  let entries = 0;
  walk(dir, Number.POSITIVE_INFINITY, (path, s) => {
    if ((s.mode & OTHERS) === 0) return;
    chmodSync(path, s.mode & 0o7777 & ~OTHERS);
    entries++;
  });
  return { dirWas, entries, created };
}
