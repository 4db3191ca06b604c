// The QEMU side of the boot benchmark: plain QEMU started by hand with the driver's own argv (the
// baseline), the guests' serial logs watched for their first userspace line, and the machine's
// other QEMUs noticed (a disturbed run says so). Timings are performance.now() milliseconds.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  readdirSync,
  existsSync,
  statSync,
} from 'node:fs';
import { extname, join } from 'node:path';
import { renderArgv, vmFiles, type VmDefinition } from '../src/host/qemu/argv.ts';
import { QEMU_BINARY, killQemu } from '../src/host/qemu/process.ts';
import { qemuImgCreate } from '../src/host/qemu-img.ts';

export interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();
const MARKER = /^nubes-tiny: userspace\r?$/m;
/** How long any boot may take before the bench gives up (TCG, 10 at once on 2 cores: ~40 s). */
export const BOOT_LIMIT_MS = 240_000;

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1)! };
}

/** QEMU processes on this machine, from /proc (what `pgrep -af qemu-system-x86_64` shows). */
export function qemuProcesses(): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith(QEMU_BINARY)) out.push({ pid: Number(d), cmdline: argv.join(' ') });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Samples, each second, QEMUs that are not this bench's (another user's tests) and the load average. */
export function disturbanceMonitor(ours: string) {
  const seen: Record<string, { foreignQemuMax: number; load1Max: number; foreign: string[] }> = {};
  let phase = 'start';
  const sample = () => {
    const foreign = qemuProcesses().filter((p) => !p.cmdline.includes(ours));
    const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    const s = (seen[phase] ??= { foreignQemuMax: 0, load1Max: 0, foreign: [] });
    s.foreignQemuMax = Math.max(s.foreignQemuMax, foreign.length);
    s.load1Max = Math.max(s.load1Max, load1);
    // Whose: the pid and the directory its serial log is in.
    for (const p of foreign) {
      const who = `${p.pid} (${/path=([^,\s]+)\/serial/.exec(p.cmdline)?.[1] ?? p.cmdline.slice(0, 80)})`;
      if (!s.foreign.includes(who)) s.foreign.push(who);
    }
  };
  const timer = setInterval(sample, 1000);
  return {
    phase(name: string) {
      phase = name;
      sample();
    },
    seen,
    stop() {
      clearInterval(timer);
    },
  };
}

/** Resolves with the time (performance.now()) at which the serial log first holds the marker; reads only new bytes. */
export async function waitMarker(file: string, deadline: number): Promise<number> {
  let offset = 0;
  let carry = '';
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    if (existsSync(file)) {
      const fd = openSync(file, 'r');
      try {
        for (let n; (n = readSync(fd, buf, 0, buf.length, offset)) > 0; offset += n) {
          const text = carry + buf.toString('latin1', 0, n);
          if (MARKER.test(text)) return now();
          carry = text.slice(text.lastIndexOf('\n') + 1);
        }
      } finally {
        closeSync(fd);
      }
    }
    if (now() > deadline)
      throw new Error(`${file} never showed "nubes-tiny: userspace" (${offset} bytes read)`);
    await sleep(50);
  }
}

export interface Template {
  readonly def: VmDefinition;
  readonly base: string;
  readonly baseFormat: string;
  readonly size: number;
  readonly configIso: string;
}

export function takeTemplate(dataDir: string, id: string, into: string): Template {
  const dir = join(dataDir, 'compute', 'instances', id);
  const def = JSON.parse(readFileSync(join(dir, 'vm.json'), 'utf8')) as VmDefinition;
  const root = def.disks.find((d) => d.id === 'root');
  if (!root || root.format !== 'qcow2')
    throw new Error(`instance ${id} has no qcow2 root disk in vm.json`);
  // The qcow2 header (read as a file: QEMU holds the image's lock): backing file name and virtual size.
  const h = Buffer.alloc(32);
  const fd = openSync(root.path, 'r');
  let backing: string;
  try {
    readSync(fd, h, 0, h.length, 0);
    const name = Buffer.alloc(h.readUInt32BE(16));
    readSync(fd, name, 0, name.length, Number(h.readBigUInt64BE(8)));
    backing = name.toString('utf8');
  } finally {
    closeSync(fd);
  }
  const cacheDir = join(dataDir, 'compute', 'image-cache');
  if (!backing.startsWith(cacheDir))
    throw new Error(`the root disk of ${id} is backed by ${backing}, not by a file in ${cacheDir}`);
  mkdirSync(into, { recursive: true });
  const configIso = join(into, 'config.iso');
  const config = def.disks.find((d) => d.id === 'config');
  if (!config) throw new Error(`instance ${id} has no config drive in vm.json`);
  copyFileSync(config.path, configIso);
  return {
    def,
    base: backing,
    baseFormat: extname(backing).slice(1),
    size: Number(h.readBigUInt64BE(24)),
    configIso,
  };
}

export interface BaselineBoots {
  readonly pidfile: number[];
  readonly daemonized: number[];
  readonly userspace: number[];
}

/** `n` plain QEMUs at once with our driver's argv, each on a fresh overlay; times spawn → pidfile, → daemonized and → marker. */
export async function baselineBoots(
  t: Template,
  root: string,
  n: number,
  dirs: string[],
): Promise<BaselineBoots> {
  const defs: VmDefinition[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(root, `b${dirs.length}`);
    dirs.push(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const disks = t.def.disks.map((d) => {
      if (d.id === 'root') return { ...d, path: join(dir, 'disk.qcow2') };
      if (d.id === 'config') return { ...d, path: join(dir, 'config.iso') };
      throw new Error(`the baseline does not copy disk ${d.id} (m1.nano has none)`);
    });
    await qemuImgCreate(join(dir, 'disk.qcow2'), 'qcow2', t.size, {
      backing: t.base,
      backingFormat: t.baseFormat,
    });
    copyFileSync(t.configIso, join(dir, 'config.iso'));
    defs.push({ ...t.def, name: `baseline-${dirs.length}`, uuid: randomUUID(), dir, disks });
  }
  const one = async (def: VmDefinition) => {
    const t0 = now();
    // Like the driver's exec: an argument array, no shell; done when the launcher has exited and closed its pipes.
    const child = spawn(QEMU_BINARY, renderArgv(def), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout!.resume();
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const code = await new Promise<number | null>((ok, fail) => {
      child.once('error', fail);
      child.once('close', ok);
    });
    const daemonized = now() - t0;
    if (code !== 0) throw new Error(`baseline QEMU exited ${code}: ${err.trim()}`);
    const pidfile = statSync(vmFiles(def.dir).pid).birthtimeMs - (performance.timeOrigin + t0);
    return {
      pidfile,
      daemonized,
      userspace: (await waitMarker(vmFiles(def.dir).serial, t0 + BOOT_LIMIT_MS)) - t0,
    };
  };
  const r = await Promise.all(defs.map(one));
  return {
    pidfile: r.map((x) => x.pidfile),
    daemonized: r.map((x) => x.daemonized),
    userspace: r.map((x) => x.userspace),
  };
}

/** SIGKILL to the baseline QEMUs (the driver's own kill: by pid file, checked against the cmdline), waiting until they are gone. */
export async function killBaseline(dirs: readonly string[]): Promise<void> {
  await Promise.all(dirs.map((dir) => killQemu(dir)));
}
