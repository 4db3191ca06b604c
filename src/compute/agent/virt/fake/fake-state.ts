// The fake driver's guests on disk: one directory per simulated host, one JSON file per guest, so
// that a long simulation keeps its guests across a restart of Nubes, as a real hypervisor keeps
// its own. A change rewrites only its guest's file: owner-only (0600), written to a temporary file
// renamed over the old one, so a crash leaves the old guest or the new, never half of one.
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { POWER_STATES, type FlavorSpec, type NicSpec, type PowerState } from '../driver.ts';

/** One guest of a fake host, as the driver holds it. */
export interface FakeGuest {
  flavor: FlavorSpec;
  power: PowerState;
  rescued: boolean;
  previousFlavor: FlavorSpec | null;
  nics: NicSpec[];
  volumes: Map<string, string>;
  console: string[];
  /** Prepared to receive a live migration, not started yet. */
  incoming: boolean;
}

const VERSION = 1;
const SUFFIX = '.json';

const fileOf = (dir: string, uuid: string) => join(dir, `${encodeURIComponent(uuid)}${SUFFIX}`);

function parseGuest(file: string, text: string): [string, FakeGuest] {
  try {
    const g = JSON.parse(text) as Record<string, unknown>;
    if (g['version'] !== VERSION) throw new Error(`not a version ${VERSION} guest`);
    if (typeof g['uuid'] !== 'string' || !POWER_STATES.includes(g['power'] as PowerState))
      throw new Error('no uuid or power state');
    return [
      g['uuid'],
      {
        flavor: g['flavor'] as FlavorSpec,
        power: g['power'] as PowerState,
        rescued: g['rescued'] === true,
        previousFlavor: (g['previousFlavor'] ?? null) as FlavorSpec | null,
        nics: (g['nics'] ?? []) as NicSpec[],
        volumes: new Map(Object.entries((g['volumes'] ?? {}) as Record<string, string>)),
        console: (g['console'] ?? []) as string[],
        incoming: g['incoming'] === true,
      },
    ];
  } catch (e) {
    throw new Error(
      `the fake driver's guest file ${file} is damaged (${(e as Error).message}): move it away to start this host without that guest`,
    );
  }
}

/** The guests kept in `dir`; none when it does not exist yet. Throws, naming the file, when one cannot be used. */
export function readGuests(dir: string): Map<string, FakeGuest> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`the fake driver cannot read its guests in ${dir}: ${(e as Error).message}`);
  }
  const guests = new Map<string, FakeGuest>();
  for (const name of names) {
    // Temporary files are what a crash left mid-write: the guest's previous file still stands.
    if (!name.endsWith(SUFFIX)) continue;
    const file = join(dir, name);
    const [uuid, guest] = parseGuest(file, readFileSync(file, 'utf8'));
    guests.set(uuid, guest);
  }
  return guests;
}

/** Writes the guest's file (atomically, owner-only), or removes it when `guest` is undefined. */
export function saveGuest(dir: string, uuid: string, guest: FakeGuest | undefined): void {
  const file = fileOf(dir, uuid);
  if (guest === undefined) {
    rmSync(file, { force: true });
    return;
  }
  const text = JSON.stringify({
    version: VERSION,
    uuid,
    ...guest,
    volumes: Object.fromEntries(guest.volumes),
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  // A temporary file left by a crash is replaced; 'wx' then creates it anew with mode 0600.
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
