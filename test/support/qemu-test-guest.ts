// What the QEMU driver's guest tests share: the nubes-tiny image built once per process, state
// directories under one scratch directory (every QEMU started there is killed when the process
// exits), and waits on the guest's own serial console markers.
import assert from 'node:assert/strict';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QemuDriver } from '../../src/compute/agent/virt/qemu/qemu-driver.ts';
import { instanceSpec } from '../../src/compute/agent/virt/driver.contract.ts';
import type {
  FlavorSpec,
  ImageSpec,
  InstanceSpec,
  LifecycleEvent,
} from '../../src/compute/agent/virt/driver.ts';
import { buildTinyImage, type TinyImage } from '../../src/host/tiny-image/build-tiny-image.ts';
import { chooseAccelerator } from '../../src/host/qemu/accel.ts';
import { haveCommand } from '../../src/host/exec.ts';

export const missing = !(await haveCommand('qemu-system-x86_64'))
  ? 'qemu-system-x86_64 is not installed (bin/nubes installs qemu-system-x86)'
  : !(await haveCommand('genisoimage'))
    ? 'genisoimage is not installed (bin/nubes installs it)'
    : false;
export const accel = chooseAccelerator().accel;
/** How long any one wait may take: generous, since TCG on a busy CI machine is slow. Never a timing assertion. */
export const DEADLINE_MS = accel === 'kvm' ? 90_000 : 240_000;
const scratch = mkdtempSync(join(tmpdir(), 'nubes-qemu-guest-'));

/** Every QEMU this file started dies with it, even when the run is cut short (sync: 'exit' cannot wait). */
function killLeftovers(): void {
  for (const state of readdirSync(scratch).filter((n) => n.startsWith('state-'))) {
    const instances = join(scratch, state, 'instances');
    for (const uuid of existsSync(instances) ? readdirSync(instances) : []) {
      const pid = qemuPidOf(join(instances, uuid));
      if (pid !== null)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    }
  }
}
process.on('exit', () => {
  killLeftovers();
  rmSync(scratch, { recursive: true, force: true });
});

let tiny: TinyImage | undefined;
/** The tiny image's disk file (built on first use). */
export async function tinyDisk(): Promise<string> {
  await tinyImage();
  return tiny!.disk;
}
export async function tinyImage(id = '3c7a1f52-6b0e-4d8e-9a41-5f2b7c9d0e11'): Promise<ImageSpec> {
  tiny ??= await buildTinyImage({ cacheDir: join(scratch, 'build-cache') });
  const disk = tiny.disk;
  return {
    id,
    diskFormat: 'qcow2',
    checksum: null,
    properties: {},
    open: async () => createReadStream(disk),
  };
}

export const flavor = (over: Partial<FlavorSpec> = {}): FlavorSpec => ({
  vcpus: 1,
  memoryMb: 192,
  rootGb: 1,
  ephemeralGb: 0,
  swapMb: 0,
  extraSpecs: {},
  ...over,
});
export const userData = (script: string) =>
  Buffer.from(`#!/bin/sh\n${script}\n`).toString('base64');
export const spec = (image: ImageSpec, f: FlavorSpec, script: string): InstanceSpec =>
  instanceSpec(image, {
    flavor: f,
    metadata: { publicKeys: {}, meta: {}, configDrive: true, userData: userData(script) },
  });

/** A new state directory for a describe's drivers (its `after` removes it); under scratch, so killLeftovers finds it. */
export function stateDir(): string {
  return mkdtempSync(join(scratch, 'state-'));
}
export const instanceDir = (state: string, uuid: string) => join(state, 'instances', uuid);

/** The pid in <dir>/qemu.pid if that process is alive (not gone, not a zombie). */
export function qemuPidOf(dir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8').trim());
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 1 && alive(pid) ? pid : null;
}

export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `probe` until it answers something other than undefined; fails with `what` (and the console) at the deadline. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  console?: () => Promise<string>,
): Promise<T> {
  const until = Date.now() + DEADLINE_MS;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > until) {
      const tail = console
        ? `\n--- console tail ---\n${(await console().catch((e: Error) => e.message)).slice(-3000)}`
        : '';
      assert.fail(`gave up waiting for ${what} after ${DEADLINE_MS / 1000} s${tail}`);
    }
    await sleep(300);
  }
}

/** The console split into boots: one entry per `nubes-tiny: boot` marker, each from that marker on. */
export const boots = (out: string) =>
  out
    .split(/(?=nubes-tiny: boot version=)/)
    .filter((s) => s.startsWith('nubes-tiny: boot version='));

/** The `key=value` words of the last `NUBES-TEST <tag> ...` line in `text`. */
export function factsOf(text: string, tag: string): Record<string, string> | undefined {
  const lines = [...text.matchAll(new RegExp(`NUBES-TEST ${tag} ([^\\r\\n]*)`, 'g'))];
  const line = lines.at(-1)?.[1];
  if (line === undefined) return undefined;
  return Object.fromEntries(
    line
      .trim()
      .split(/\s+/)
      .map((w) => {
        const i = w.indexOf('=');
        return [w.slice(0, i), w.slice(i + 1)];
      }),
  );
}

export const ticks = (out: string) =>
  [...out.matchAll(/NUBES-TEST tick (\d+)/g)].map((m) => Number(m[1]));

/** Waits until the guest has booted `n` times in all and the n-th boot is `ready`; answers that boot's console. */
export async function bootReady(
  driver: QemuDriver,
  uuid: string,
  n: number,
  extra?: RegExp,
): Promise<string> {
  const console = () => driver.consoleOutput(uuid, 1 << 20);
  const out = await waitUntil(
    `boot ${n} of ${uuid} to be ready`,
    async () => {
      const b = boots(await console());
      const last = b[n - 1];
      return last !== undefined &&
        /nubes-tiny: ready\r?$/m.test(last) &&
        (!extra || extra.test(last))
        ? b
        : undefined;
    },
    console,
  );
  assert.equal(out.length, n, `exactly ${n} boots so far`);
  return out[n - 1]!;
}

/** Collects a driver's lifecycle events. */
export function recorder(driver: QemuDriver) {
  const events: LifecycleEvent[] = [];
  const stop = driver.watch((e) => events.push(e));
  return { events, stop, of: (uuid: string) => events.filter((e) => e.uuid === uuid) };
}

/** Destroys everything on each state directory with a fresh driver (whatever state the test's drivers are in), then removes it. */
export async function cleanUp(drivers: QemuDriver[], dirs: string[]): Promise<void> {
  for (const d of drivers) d.close();
  for (const dir of dirs) {
    const d = new QemuDriver({ stateDir: dir, accel });
    try {
      for (const i of await d.listInstances().catch(() => []))
        await d.destroy(i.uuid).catch(() => undefined);
    } finally {
      d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
