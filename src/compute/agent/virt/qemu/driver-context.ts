// What every part of the QEMU driver shares: its options, image cache, monitors and cgroup layout,
// the paths of an instance (its directory, its disks), its saved definition, QMP access to its QEMU,
// undo stacks that log, and starting and stopping its QEMU.
import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VmDefinition } from '../../../../host/qemu/argv.ts';
import { killQemu, qemuPid, startQemu, waitQemuExit } from '../../../../host/qemu/process.ts';
import { qmpCommands } from '../../../../host/qemu/qmp/commands.ts';
import { queryMigrate } from '../../../../host/qemu/qmp/migration.ts';
import { Undo } from '../../../../host/undo.ts';
import {
  cpuCgroupLayout,
  limitCpu,
  removeCgroup,
  type CgroupLayout,
} from '../../../../host/cgroups.ts';
import type { Logger } from '../../../../platform/log.ts';
import { createImageCache, type ImageCache } from './image-cache.ts';
import { VmMonitors } from './vm-monitors.ts';
import { InstanceNotOnHost, VirtError, type DriverStep } from '../driver.ts';

export interface QemuDriverOptions {
  /** Where instance directories and the image cache live (e.g. <data-dir>/compute). */
  readonly stateDir: string;
  readonly accel: 'kvm' | 'tcg';
  /** Bytes of serial log kept (and read back at most): the log rotates past it (default 1 MiB). */
  readonly consoleBytes?: number;
  /** How long a clean shutdown (soft reboot, resize, rescue) waits before a hard stop (default 60 s, Nova's shutdown_timeout). */
  readonly shutdownTimeoutSeconds?: number;
  /** How often the watch attaches to guests it has no monitor for and rotates logs (default 2 s). */
  readonly watchIntervalMs?: number;
  /** The address other hosts reach this one at for live migrations coming here (default 127.0.0.1: one machine). */
  readonly migrationAddress?: string;
  /**
   * Where instance disks and the image cache live when that storage is shared with other hosts
   * (Nova's instances_path on NFS): a live migration between two hosts that both see a guest's
   * disks there moves only its memory. Default: this host's own state directory.
   */
  readonly instancesPath?: string;
  /** Where an undo that failed after a failed operation is told (what it left behind). */
  readonly log?: Pick<Logger, 'warn'>;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const GiB = 2 ** 30;

export class DriverContext {
  readonly o: QemuDriverOptions;
  readonly cache: ImageCache;
  readonly monitors: VmMonitors;
  /** Where this host's cpu controller is (read once: mounts do not move under a running agent). */
  readonly cgroups = cpuCgroupLayout();
  /** Who hears of the steps operations wait on (VirtDriver.steps). */
  readonly stepHandlers = new Set<(s: DriverStep) => void>();

  constructor(o: QemuDriverOptions) {
    this.o = o;
    this.cache = createImageCache(join(o.instancesPath ?? o.stateDir, 'image-cache'));
    this.monitors = new VmMonitors((uuid) => this.dir(uuid));
  }

  dir(uuid: string): string {
    // Instance ids name directories: only UUIDs, so none can point elsewhere.
    if (!UUID.test(uuid)) throw new VirtError(`instance id ${uuid} is not a UUID`);
    return join(this.o.stateDir, 'instances', uuid);
  }

  /** Where the instance's disks are: its own directory, or its directory on the shared instances path. */
  disks(uuid: string): string {
    const own = this.dir(uuid); // checks the uuid too
    return this.o.instancesPath === undefined ? own : join(this.o.instancesPath, uuid);
  }

  /** Whether the instance's disks are on storage other hosts see too (a destroy after it moved must leave them). */
  shared(): boolean {
    return this.o.instancesPath !== undefined;
  }

  file(uuid: string, name: string): string {
    return join(this.dir(uuid), name);
  }
  has(uuid: string, name: string): Promise<boolean> {
    return stat(this.file(uuid, name)).then(
      () => true,
      () => false,
    );
  }
  shutdownSeconds(): number {
    return this.o.shutdownTimeoutSeconds ?? 60;
  }

  async definition(uuid: string, name = 'vm.json'): Promise<VmDefinition> {
    if (!(await this.has(uuid, 'vm.json'))) throw new InstanceNotOnHost(uuid);
    return JSON.parse(await readFile(this.file(uuid, name), 'utf8')) as VmDefinition;
  }

  async save(def: VmDefinition, name = 'vm.json'): Promise<void> {
    const path = this.file(def.uuid, name);
    await writeFile(`${path}.tmp`, JSON.stringify(def, null, 2), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  /** The instances this host has (a directory with a definition). */
  async uuids(): Promise<string[]> {
    const names = await readdir(join(this.o.stateDir, 'instances')).catch(() => [] as string[]);
    const out: string[] = [];
    for (const uuid of names.filter((n) => UUID.test(n)))
      if (await this.has(uuid, 'vm.json')) out.push(uuid);
    return out;
  }

  /** QMP commands for a running instance, over its persistent monitor. */
  async qmp(uuid: string) {
    if (qemuPid(this.dir(uuid)) === null) throw new VirtError(`instance ${uuid} is not running`);
    const m = await this.monitors.get(uuid);
    return { monitor: m, qmp: qmpCommands(m) };
  }

  /** An undo stack whose failed undos are logged: they leave something behind on the host. */
  undo(uuid: string): Undo {
    return new Undo({
      onFailure: (what, err) =>
        this.o.log?.warn({ instance: uuid, err }, `could not undo a failed step: ${what}`),
    });
  }

  /**
   * Starts QEMU (in its CPU cgroup when the flavor caps CPU) and, when someone watches, attaches
   * the monitor at once so a death is noticed. On failure no QEMU is left running; with `undo`,
   * stopping this QEMU again is pushed there (for a caller whose later step fails).
   */
  async start(def: VmDefinition, undo?: Undo): Promise<void> {
    await using started = this.undo(def.uuid);
    let layout: CgroupLayout | null = null;
    if (def.cpuLimits) {
      layout = await this.cgroups;
      if (!layout)
        throw new VirtError(
          'the flavor caps CPU time but this host has no cpu cgroup controller (see nubes doctor)',
        );
      // Pushed before QEMU's own undo so that it runs after it: a group empties when QEMU is gone.
      const group = layout;
      started.push(`remove the cgroup of ${def.uuid}`, () => removeCgroup(group, def.uuid));
    }
    // QEMU may have daemonized before a failure is seen: the undo kills whatever runs.
    started.push(`stop the QEMU of ${def.uuid}`, async () => {
      this.monitors.forget(def.uuid);
      await killQemu(def.dir);
    });
    const pid = await startQemu(def);
    if (def.cpuLimits && layout) {
      // Never a guest running without the limits its flavor asks for.
      await limitCpu(layout, def.uuid, pid, def.cpuLimits).catch((e: unknown) => {
        throw new VirtError(
          `could not cap the CPU of instance ${def.uuid}: ${(e as Error).message}`,
        );
      });
    }
    if (this.monitors.watched) await this.monitors.get(def.uuid).catch(() => undefined);
    if (undo) undo.adopt(started);
    else started.keep();
  }

  /** Stops the instance's QEMU: ACPI first (for `cleanSeconds`, 0 skips it), then quit, then SIGKILL. */
  async stop(uuid: string, cleanSeconds: number): Promise<void> {
    const dir = this.dir(uuid);
    if (qemuPid(dir) === null) return;
    this.monitors.expectExit(uuid);
    if (cleanSeconds > 0) {
      // A guest that handles the power button shuts down cleanly and QEMU exits.
      try {
        await (await this.qmp(uuid)).qmp.powerdown();
      } catch {
        /* the hard stop below */
      }
      this.#tell({ uuid, step: 'shutdown_wait', seconds: cleanSeconds });
      const clean = await waitQemuExit(dir, cleanSeconds * 1000);
      this.#tell({
        uuid,
        step: clean ? 'shutdown_done' : 'shutdown_forced',
        seconds: cleanSeconds,
      });
      if (clean) return;
    }
    try {
      await (await this.qmp(uuid)).qmp.quit();
    } catch {
      /* killed below */
    }
    if (!(await waitQemuExit(dir, 5000))) await killQemu(dir);
  }

  #tell(s: DriverStep): void {
    for (const h of this.stepHandlers) h(s);
  }

  /**
   * Stops the instance for work on its disks (`cleanSeconds` as stop), pushing on `undo` its
   * start again as `def` if it ran: a failed resize or rescue leaves it running as before.
   */
  async stopFor(uuid: string, def: VmDefinition, cleanSeconds: number, undo: Undo) {
    if (qemuPid(def.dir) === null) return;
    await this.stop(uuid, cleanSeconds);
    undo.push(`start ${uuid} again`, () => this.start(def));
  }

  /** Waits for an outgoing or incoming migration to end; throws with QEMU's reason when it failed. */
  async migrationDone(uuid: string, timeoutMs: number): Promise<void> {
    const { monitor } = await this.qmp(uuid);
    for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
      const r = await queryMigrate(monitor);
      if (r.status === 'completed') return;
      if (r.status === 'failed' || r.status === 'cancelled')
        throw new VirtError(
          `QEMU's migration of ${uuid} ${r.status}: ${r.errorDesc ?? 'no reason given'}`,
        );
    }
    throw new VirtError(`QEMU's migration of ${uuid} did not finish within ${timeoutMs / 1000} s`);
  }
}
