// The fake driver's guests on disk: one JSON file per simulated host, so that a long simulation
// keeps its guests across a restart of Nubes, as a real hypervisor keeps its running guests. The
// file is written whole, owner-only (0600), to a temporary file renamed over the old one: a crash
// leaves the old state or the new, never half of one.
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
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

/** The guests kept in `file`; none when it does not exist yet. Throws, naming the file, when it cannot be used. */
export function readGuests(file: string): Map<string, FakeGuest> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`the fake driver cannot read its guests from ${file}: ${(e as Error).message}`);
  }
  try {
    const saved = JSON.parse(text) as { version?: unknown; guests?: unknown };
    if (saved.version !== VERSION || !Array.isArray(saved.guests))
      throw new Error(`not a version ${VERSION} guest list`);
    return new Map(
      saved.guests.map((g: Record<string, unknown>) => {
        if (typeof g['uuid'] !== 'string' || !POWER_STATES.includes(g['power'] as PowerState))
          throw new Error('a guest without a uuid or a power state');
        const guest: FakeGuest = {
          flavor: g['flavor'] as FlavorSpec,
          power: g['power'] as PowerState,
          rescued: g['rescued'] === true,
          previousFlavor: (g['previousFlavor'] ?? null) as FlavorSpec | null,
          nics: (g['nics'] ?? []) as NicSpec[],
          volumes: new Map(Object.entries((g['volumes'] ?? {}) as Record<string, string>)),
          console: (g['console'] ?? []) as string[],
          incoming: g['incoming'] === true,
        };
        return [g['uuid'], guest] as const;
      }),
    );
  } catch (e) {
    throw new Error(
      `the fake driver's guest file ${file} is damaged (${(e as Error).message}): move it away to start this host with no guests`,
    );
  }
}

/** Replaces `file` with these guests, atomically and owner-only. */
export function writeGuests(file: string, guests: ReadonlyMap<string, FakeGuest>): void {
  const text = JSON.stringify({
    version: VERSION,
    guests: [...guests].map(([uuid, g]) => ({
      uuid,
      ...g,
      volumes: Object.fromEntries(g.volumes),
    })),
  });
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
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
