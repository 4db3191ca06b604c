// Which clouds run on this machine: `nubes up` writes a note (<run_dir>/up-<pid>.json: its data dir
// and virt driver) while it serves and removes it when it stops, so `nubes doctor` given no data
// dir reports on the running cloud's rather than on the default one.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunningCloud {
  readonly pid: number;
  readonly dataDir: string;
  readonly virtDriver: 'fake' | 'qemu';
  readonly publicUrl: string;
}

const NOTE = /^up-(\d+)\.json$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Notes this process as a running cloud; the returned function removes the note. Never throws:
 * without the note the cloud runs all the same, and doctor needs --data-dir. */
export function noteRunning(runDir: string, cloud: Omit<RunningCloud, 'pid'>): () => void {
  const file = join(runDir, `up-${process.pid}.json`);
  try {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    // Notes of clouds that were killed before removing theirs.
    for (const c of readNotes(runDir)) if (!alive(c.pid)) rmSync(c.file, { force: true });
    writeFileSync(file, `${JSON.stringify({ pid: process.pid, ...cloud })}\n`, { mode: 0o600 });
  } catch {
    return () => {};
  }
  return () => rmSync(file, { force: true });
}

function readNotes(runDir: string): (RunningCloud & { file: string })[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const m = NOTE.exec(name);
    if (!m) return [];
    const file = join(runDir, name);
    try {
      const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunningCloud>;
      if (typeof c.dataDir !== 'string' || (c.virtDriver !== 'fake' && c.virtDriver !== 'qemu'))
        return [];
      return [
        {
          pid: Number(m[1]),
          dataDir: c.dataDir,
          virtDriver: c.virtDriver,
          publicUrl: String(c.publicUrl ?? ''),
          file,
        },
      ];
    } catch {
      return [];
    }
  });
}

/** The clouds whose process still runs, oldest pid first. */
export function runningClouds(runDir: string): RunningCloud[] {
  return readNotes(runDir)
    .filter((c) => alive(c.pid))
    .sort((a, b) => a.pid - b.pid)
    .map(({ file: _file, ...c }) => c);
}
