// The QEMU virt driver: one QEMU process per instance, daemonized so it outlives the agent, driven
// over one persistent QMP connection per VM (vm-monitors.ts) that also reports what happens on its
// own. Each instance directory holds everything of the instance:
//   vm.json            its definition, what a power-on starts (the rescue one while rescued)
//   vm.normal.json     the usual definition, while rescued
//   vm.pre-resize.json what a revert of a resize restores (with disk.pre-resize.qcow2)
//   memory.state       the guest's memory while suspended
//   incoming           while a migration comes here: where it is awaited
//   serial.log(.1)     the console; qmp.sock, vnc.sock, qemu.pid; disk.rescue.qcow2 while rescued
// and, unless instancesPath puts them on storage shared with other hosts, its disks
// (instance-definition.ts): disk.qcow2 (an overlay on the cached image), disk.eph0.raw,
// disk.swap.raw, config.iso, disk.pre-resize.qcow2.
import {
  copyFile,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  statfs,
  writeFile,
} from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import {
  qemuImgConvert,
  qemuImgCreate,
  qemuImgInfo,
  qemuImgResize,
} from '../../../../host/qemu-img.ts';
import { vmFiles, type VmDefinition } from '../../../../host/qemu/argv.ts';
import { killQemu, qemuPid, startQemu, waitQemuExit } from '../../../../host/qemu/process.ts';
import { qmpCommands, type RunState } from '../../../../host/qemu/qmp/commands.ts';
import {
  migrate,
  migrateIncoming,
  migrateSetMaxBandwidth,
  queryMigrate,
} from '../../../../host/qemu/qmp/migration.ts';
import { Undo } from '../../../../host/undo.ts';
import type { Logger } from '../../../../platform/log.ts';
import { createImageCache, type ImageCache } from './image-cache.ts';
import { defineInstance } from './instance-definition.ts';
import { VmMonitors } from './vm-monitors.ts';
import { flavorLimits } from './flavor-limits.ts';
import {
  cpuCgroupLayout,
  limitCpu,
  removeCgroup,
  type CgroupLayout,
} from '../../../../host/cgroups.ts';
import { readSerialTail, rotateSerialLog } from './serial-log.ts';
import { receiveToFile, sendFileTo } from './state-file.ts';
import { listenForMigration, migrateOut, stopListening } from './live-migration.ts';
import { dropDiskNodes, plugDisk, plugNic, unplug, withNic, withVolume } from './hotplug.ts';
import {
  InstanceNotOnHost,
  VirtError,
  type DriverCapabilities,
  type FlavorSpec,
  type HostResources,
  type ImageSpec,
  type InstanceInfo,
  type InstanceSpec,
  type LifecycleEvent,
  type MigrationTarget,
  type NicSpec,
  type PowerState,
  type VirtDriver,
  type VolumeSpec,
} from '../driver.ts';

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

const CAPABILITIES: DriverCapabilities = {
  supportsPause: true,
  supportsSuspend: true,
  supportsRescue: true,
  supportsSnapshot: true,
  supportsResize: true,
  supportsLiveMigration: true,
  supportsAttachInterface: true,
  supportsAttachVolume: true,
  supportsConsoleLog: true,
  supportsVncConsole: true,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GiB = 2 ** 30;

function powerOf(s: RunState): PowerState {
  switch (s) {
    case 'running':
      return 'running';
    case 'paused':
    case 'prelaunch':
    case 'inmigrate':
    case 'postmigrate':
    case 'finish-migrate':
    case 'restore-vm':
    case 'save-vm':
    case 'debug':
    case 'colo':
      return 'paused';
    case 'suspended':
      return 'suspended';
    case 'guest-panicked':
    case 'internal-error':
    case 'io-error':
    case 'watchdog':
      return 'crashed';
    case 'shutdown':
      return 'shutdown';
  }
}

export class QemuDriver implements VirtDriver {
  readonly capabilities = CAPABILITIES;
  readonly #o: QemuDriverOptions;
  readonly #cache: ImageCache;
  readonly #monitors: VmMonitors;
  #watchTimer: NodeJS.Timeout | undefined;
  /** Where this host's cpu controller is (read once: mounts do not move under a running agent). */
  readonly #cgroups = cpuCgroupLayout();

  constructor(o: QemuDriverOptions) {
    this.#o = o;
    this.#cache = createImageCache(join(o.instancesPath ?? o.stateDir, 'image-cache'));
    this.#monitors = new VmMonitors((uuid) => this.#dir(uuid));
  }

  #dir(uuid: string): string {
    // Instance ids name directories: only UUIDs, so none can point elsewhere.
    if (!UUID.test(uuid)) throw new VirtError(`instance id ${uuid} is not a UUID`);
    return join(this.#o.stateDir, 'instances', uuid);
  }

  /** Where the instance's disks are: its own directory, or its directory on the shared instances path. */
  #disks(uuid: string): string {
    const own = this.#dir(uuid); // checks the uuid too
    return this.#o.instancesPath === undefined ? own : join(this.#o.instancesPath, uuid);
  }

  /** Whether the instance's disks are on storage other hosts see too (a destroy after it moved must leave them). */
  #shared(): boolean {
    return this.#o.instancesPath !== undefined;
  }

  #file(uuid: string, name: string): string {
    return join(this.#dir(uuid), name);
  }
  #has(uuid: string, name: string): Promise<boolean> {
    return stat(this.#file(uuid, name)).then(
      () => true,
      () => false,
    );
  }
  #shutdownSeconds(): number {
    return this.#o.shutdownTimeoutSeconds ?? 60;
  }

  async #definition(uuid: string, name = 'vm.json'): Promise<VmDefinition> {
    if (!(await this.#has(uuid, 'vm.json'))) throw new InstanceNotOnHost(uuid);
    return JSON.parse(await readFile(this.#file(uuid, name), 'utf8')) as VmDefinition;
  }

  async #save(def: VmDefinition, name = 'vm.json'): Promise<void> {
    const path = this.#file(def.uuid, name);
    await writeFile(`${path}.tmp`, JSON.stringify(def, null, 2), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  /** QMP commands for a running instance, over its persistent monitor. */
  async #qmp(uuid: string) {
    if (qemuPid(this.#dir(uuid)) === null) throw new VirtError(`instance ${uuid} is not running`);
    const m = await this.#monitors.get(uuid);
    return { monitor: m, qmp: qmpCommands(m) };
  }

  /** An undo stack whose failed undos are logged: they leave something behind on the host. */
  #undo(uuid: string): Undo {
    return new Undo({
      onFailure: (what, err) =>
        this.#o.log?.warn({ instance: uuid, err }, `could not undo a failed step: ${what}`),
    });
  }

  /**
   * Starts QEMU (in its CPU cgroup when the flavor caps CPU) and, when someone watches, attaches
   * the monitor at once so a death is noticed. On failure no QEMU is left running; with `undo`,
   * stopping this QEMU again is pushed there (for a caller whose later step fails).
   */
  async #start(def: VmDefinition, undo?: Undo): Promise<void> {
    await using started = this.#undo(def.uuid);
    let layout: CgroupLayout | null = null;
    if (def.cpuLimits) {
      layout = await this.#cgroups;
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
      this.#monitors.forget(def.uuid);
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
    if (this.#monitors.watched) await this.#monitors.get(def.uuid).catch(() => undefined);
    if (undo) undo.adopt(started);
    else started.keep();
  }

  /** Stops the instance's QEMU: ACPI first (for `cleanSeconds`, 0 skips it), then quit, then SIGKILL. */
  async #stop(uuid: string, cleanSeconds: number): Promise<void> {
    const dir = this.#dir(uuid);
    if (qemuPid(dir) === null) return;
    this.#monitors.expectExit(uuid);
    if (cleanSeconds > 0) {
      // A guest that handles the power button shuts down cleanly and QEMU exits.
      try {
        await (await this.#qmp(uuid)).qmp.powerdown();
      } catch {
        /* the hard stop below */
      }
      if (await waitQemuExit(dir, cleanSeconds * 1000)) return;
    }
    try {
      await (await this.#qmp(uuid)).qmp.quit();
    } catch {
      /* killed below */
    }
    if (!(await waitQemuExit(dir, 5000))) await killQemu(dir);
  }

  async hostResources(): Promise<HostResources> {
    // The disk guests use is where their disks are: the shared instances path when there is one.
    const disks = this.#o.instancesPath ?? this.#o.stateDir;
    await mkdir(disks, { recursive: true, mode: 0o700 });
    const fs = await statfs(disks);
    return {
      vcpus: cpus().length,
      memoryMb: Math.floor(totalmem() / 2 ** 20),
      diskGb: Math.floor((fs.blocks * fs.bsize) / GiB),
      hypervisorType: 'QEMU',
      hypervisorVersion: 7002000,
      cpuInfo: JSON.stringify({
        arch: 'x86_64',
        accel: this.#o.accel,
        vendor: cpus()[0]?.model ?? 'unknown',
      }),
    };
  }

  async #uuids(): Promise<string[]> {
    const names = await readdir(join(this.#o.stateDir, 'instances')).catch(() => [] as string[]);
    const out: string[] = [];
    for (const uuid of names.filter((n) => UUID.test(n)))
      if (await this.#has(uuid, 'vm.json')) out.push(uuid);
    return out;
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const out: InstanceInfo[] = [];
    for (const uuid of await this.#uuids())
      out.push({ uuid, powerState: await this.powerState(uuid).catch(() => 'nostate' as const) });
    return out;
  }

  async powerState(uuid: string): Promise<PowerState> {
    if (!(await this.#has(uuid, 'vm.json'))) throw new InstanceNotOnHost(uuid);
    if (qemuPid(this.#dir(uuid)) === null)
      return (await this.#has(uuid, 'memory.state')) ? 'suspended' : 'shutdown';
    try {
      return powerOf(await (await this.#qmp(uuid)).qmp.status());
    } catch {
      return qemuPid(this.#dir(uuid)) === null ? 'shutdown' : 'nostate';
    }
  }

  watch(handler: (e: LifecycleEvent) => void): () => void {
    const off = this.#monitors.watch(handler);
    if (!this.#watchTimer) {
      const tick = () => {
        void this.#housekeep().finally(() => {
          if (this.#watchTimer)
            this.#watchTimer = setTimeout(tick, this.#o.watchIntervalMs ?? 2000).unref();
        });
      };
      this.#watchTimer = setTimeout(tick, 0).unref();
    }
    return () => {
      off();
      if (!this.#monitors.watched) {
        clearTimeout(this.#watchTimer);
        this.#watchTimer = undefined;
      }
    };
  }

  /** Attaches to running guests that have no monitor (after an agent restart) and keeps logs bounded. */
  async #housekeep(): Promise<void> {
    for (const uuid of await this.#uuids().catch(() => [])) {
      const dir = this.#dir(uuid);
      if (qemuPid(dir) !== null && !this.#monitors.has(uuid))
        await this.#monitors.get(uuid).catch(() => undefined);
      await rotateSerialLog(vmFiles(dir).serial, this.#o.consoleBytes ?? 1 << 20).catch(
        () => false,
      );
    }
  }

  /**
   * Makes the instance here and starts it with `start`; on any failure leaves nothing behind: each
   * step pushes its undo, and only success keeps them. With `disksExist` its disks are another
   * host's on shared storage: they are used, never made or removed.
   */
  async #create(
    spec: InstanceSpec,
    start: (def: VmDefinition, undo: Undo) => Promise<void>,
    opts: { disksExist?: boolean } = {},
  ): Promise<void> {
    const dir = this.#dir(spec.uuid);
    if (await this.#has(spec.uuid, 'vm.json'))
      throw new VirtError(`instance ${spec.uuid} already exists on this host`);
    // Bad extra specs fail here, before anything is made, and would fail on any host.
    const limits = flavorLimits(spec.flavor.extraSpecs);
    const disksDir = this.#disks(spec.uuid);
    const makeDisks = !opts.disksExist;
    try {
      await using undo = this.#undo(spec.uuid);
      await mkdir(join(this.#o.stateDir, 'instances'), { recursive: true, mode: 0o700 });
      if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) {
        undo.push(`remove ${dir}`, async () => {
          // What QEMU wrote there (pidfile, sockets, console log); all else went with its own undo.
          for (const f of Object.values(vmFiles(dir))) await rm(f, { force: true });
          await rmdir(dir);
        });
      }
      if (makeDisks && disksDir !== dir) {
        await mkdir(dirname(disksDir), { recursive: true, mode: 0o700 });
        // On shared storage: emptied by the disks' own undos, then removed (never with what it holds).
        if ((await mkdir(disksDir, { recursive: true, mode: 0o700 })) !== undefined)
          undo.push(`remove ${disksDir}`, () => rmdir(disksDir));
      }
      const def = await defineInstance(spec, {
        dir,
        disksDir,
        accel: this.#o.accel,
        limits,
        cache: makeDisks ? this.#cache : null,
        undo,
      });
      await this.#save(def);
      undo.push(`remove ${spec.uuid}'s definition`, () =>
        rm(this.#file(spec.uuid, 'vm.json'), { force: true }),
      );
      await start(def, undo);
      undo.keep();
    } catch (e) {
      throw e instanceof VirtError
        ? e
        : new VirtError(`could not start instance ${spec.uuid}: ${(e as Error).message}`, {
            retryable: true,
          });
    }
  }

  async spawn(spec: InstanceSpec): Promise<void> {
    await this.#create(spec, (def, undo) => this.#start(def, undo));
  }

  async destroy(uuid: string): Promise<void> {
    await this.forget(uuid);
    await rm(this.#disks(uuid), { recursive: true, force: true });
  }

  async forget(uuid: string): Promise<void> {
    const dir = this.#dir(uuid);
    this.#monitors.forget(uuid);
    await killQemu(dir);
    await rm(dir, { recursive: true, force: true });
    const layout = await this.#cgroups;
    if (layout) await removeCgroup(layout, uuid).catch(() => undefined);
    // Disks on this host's own storage are nobody else's: they go with the instance.
    if (!this.#shared()) await rm(this.#disks(uuid), { recursive: true, force: true });
  }

  async powerOff(uuid: string, timeoutSeconds: number): Promise<void> {
    await this.#definition(uuid);
    await this.#stop(uuid, timeoutSeconds);
  }

  async powerOn(uuid: string): Promise<void> {
    const def = await this.#definition(uuid);
    if (qemuPid(def.dir) !== null) return;
    if (await this.#has(uuid, 'memory.state')) {
      await this.resume(uuid);
      return;
    }
    await this.#start(def);
  }

  async reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void> {
    const def = await this.#definition(uuid);
    if (kind === 'hard') {
      // A hard reboot of a suspended guest boots it afresh: its saved memory goes.
      await rm(this.#file(uuid, 'memory.state'), { force: true });
      if (qemuPid(def.dir) === null) {
        await this.#start(def);
        return;
      }
      const { qmp } = await this.#qmp(uuid);
      if ((await qmp.status()) !== 'running') await qmp.cont();
      await qmp.reset();
      return;
    }
    if (qemuPid(def.dir) === null)
      throw new VirtError(`cannot soft-reboot instance ${uuid}: it is shut down`);
    // Soft: a clean shutdown (hard stop after the timeout), then a fresh start, as Nova's libvirt driver.
    await this.#stop(uuid, this.#shutdownSeconds());
    await this.#start(def);
  }

  async pause(uuid: string): Promise<void> {
    await this.#definition(uuid);
    const { qmp } = await this.#qmp(uuid);
    if ((await qmp.status()) !== 'running')
      throw new VirtError(`cannot pause instance ${uuid}: it is not running`);
    await qmp.stop();
  }

  async unpause(uuid: string): Promise<void> {
    await this.#definition(uuid);
    const { qmp } = await this.#qmp(uuid);
    if ((await qmp.status()) !== 'paused')
      throw new VirtError(`cannot unpause instance ${uuid}: it is not paused`);
    await qmp.cont();
  }

  /** Waits for an outgoing or incoming migration to end; throws with QEMU's reason when it failed. */
  async #migrationDone(uuid: string, timeoutMs: number): Promise<void> {
    const { monitor } = await this.#qmp(uuid);
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

  async suspend(uuid: string): Promise<void> {
    await this.#definition(uuid);
    const { monitor, qmp } = await this.#qmp(uuid);
    const state = this.#file(uuid, 'memory.state');
    try {
      await using undo = this.#undo(uuid);
      // Undone last: the guest stays where it was, running.
      undo.push(`run ${uuid} again`, async () => {
        if ((await qmp.status()) !== 'running') await qmp.cont();
      });
      undo.push(`remove ${state}`, () => rm(state, { force: true }));
      undo.push(`remove ${state}.partial`, () => rm(`${state}.partial`, { force: true }));
      const end = await receiveToFile(this.#file(uuid, 'mig.sock'), state);
      // Closed whether the suspend works or not: it serves one stream.
      await using _listener = { [Symbol.asyncDispose]: () => end.close() };
      // Memory to a local file: no reason to hold QEMU to its default network bandwidth.
      await migrateSetMaxBandwidth(monitor, 16 * GiB);
      await migrate(monitor, end.uri);
      await this.#migrationDone(uuid, 10 * 60_000);
      await end.done;
      undo.keep();
    } catch (e) {
      throw e instanceof VirtError
        ? e
        : new VirtError(`could not suspend instance ${uuid}: ${(e as Error).message}`);
    }
    await this.#stop(uuid, 0);
  }

  async resume(uuid: string): Promise<void> {
    const def = await this.#definition(uuid);
    const state = this.#file(uuid, 'memory.state');
    if (!(await this.#has(uuid, 'memory.state')))
      throw new VirtError(`cannot resume instance ${uuid}: it is not suspended`);
    if (qemuPid(def.dir) !== null)
      throw new VirtError(`cannot resume instance ${uuid}: it is running`);
    const sock = this.#file(uuid, 'mig.sock');
    await rm(sock, { force: true });
    try {
      // The saved memory stays until the guest runs from it, so a resume can be tried again.
      await using undo = this.#undo(uuid);
      undo.push(`remove ${sock}`, () => rm(sock, { force: true }));
      await this.#start({ ...def, incoming: 'defer' }, undo);
      const { monitor, qmp } = await this.#qmp(uuid);
      // The incoming QEMU listens; the driver connects and feeds it the saved memory.
      await migrateIncoming(monitor, `unix:${sock}`);
      await sendFileTo(sock, state);
      await this.#migrationDone(uuid, 10 * 60_000);
      if ((await qmp.status()) !== 'running') await qmp.cont();
      undo.keep();
    } catch (e) {
      throw e instanceof VirtError
        ? e
        : new VirtError(`could not resume instance ${uuid}: ${(e as Error).message}`);
    } finally {
      await rm(sock, { force: true });
    }
    await rm(state, { force: true });
  }

  /**
   * Stops the instance for work on its disks (`cleanSeconds` as #stop), pushing on `undo` its
   * start again as `def` if it ran: a failed resize or rescue leaves it running as before.
   */
  async #stopFor(uuid: string, def: VmDefinition, cleanSeconds: number, undo: Undo) {
    if (qemuPid(def.dir) === null) return;
    await this.#stop(uuid, cleanSeconds);
    undo.push(`start ${uuid} again`, () => this.#start(def));
  }

  async rescue(uuid: string, image: ImageSpec): Promise<void> {
    const def = await this.#definition(uuid);
    if (await this.#has(uuid, 'vm.normal.json'))
      throw new VirtError(`instance ${uuid} is already rescued`);
    await using undo = this.#undo(uuid);
    const base = await this.#cache.ensure(image);
    const disk = this.#file(uuid, 'disk.rescue.qcow2');
    await rm(disk, { force: true });
    undo.push(`remove ${disk}`, () => rm(disk, { force: true }));
    await qemuImgCreate(disk, 'qcow2', base.virtualSize, {
      backing: base.path,
      backingFormat: base.format,
    });
    await this.#stopFor(uuid, def, this.#shutdownSeconds(), undo);
    // The rescue system boots first; the instance's own disks follow it (its root as the second disk).
    const rescued: VmDefinition = {
      ...def,
      disks: [
        { id: 'rescue', path: disk, format: 'qcow2', bus: 'virtio', readOnly: false, boot: true },
        ...def.disks.map((d) => ({ ...d, boot: false })),
      ],
    };
    await this.#save(def, 'vm.normal.json');
    undo.push(`remove ${uuid}'s saved definition`, () =>
      rm(this.#file(uuid, 'vm.normal.json'), { force: true }),
    );
    await this.#save(rescued);
    undo.push(`restore ${uuid}'s definition`, () => this.#save(def));
    await this.#start(rescued);
    undo.keep();
    // A suspended guest's saved memory is of a machine rescue does not resume: it goes once rescued.
    await rm(this.#file(uuid, 'memory.state'), { force: true });
  }

  async unrescue(uuid: string): Promise<void> {
    await this.#definition(uuid);
    if (!(await this.#has(uuid, 'vm.normal.json')))
      throw new VirtError(`instance ${uuid} is not rescued`);
    const normal = await this.#definition(uuid, 'vm.normal.json');
    await this.#stop(uuid, 0);
    await this.#save(normal);
    await rm(this.#file(uuid, 'vm.normal.json'), { force: true });
    await rm(this.#file(uuid, 'disk.rescue.qcow2'), { force: true });
    await this.#start(normal);
  }

  async snapshot(
    uuid: string,
    sink: (data: Readable, diskFormat: string) => Promise<void>,
  ): Promise<void> {
    const def = await this.#definition(
      uuid,
      (await this.#has(uuid, 'vm.normal.json')) ? 'vm.normal.json' : 'vm.json',
    );
    const root = def.disks.find((d) => d.id === 'root');
    if (!root) throw new VirtError(`instance ${uuid} has no root disk to snapshot`);
    const out = join(def.dir, `snapshot-${Date.now()}.qcow2`);
    const running =
      qemuPid(def.dir) !== null && (await (await this.#qmp(uuid)).qmp.status()) === 'running';
    try {
      // The guest is paused only for the copy of its overlay (with the image flattened in), not the upload.
      if (running) await (await this.#qmp(uuid)).qmp.stop();
      try {
        await qemuImgConvert(root.path, root.format, out, 'qcow2', undefined, { forceShare: true });
      } finally {
        if (running) await (await this.#qmp(uuid)).qmp.cont();
      }
      await sink(createReadStream(out, { highWaterMark: 1 << 20 }), 'qcow2');
    } finally {
      await rm(out, { force: true });
    }
  }

  async resize(uuid: string, flavor: FlavorSpec): Promise<void> {
    const def = await this.#definition(uuid);
    if (await this.#has(uuid, 'vm.pre-resize.json'))
      throw new VirtError(`instance ${uuid} has a resize to confirm or revert first`);
    const root = def.disks.find((d) => d.id === 'root');
    if (!root) throw new VirtError(`instance ${uuid} has no root disk to resize`);
    // The new flavor's limits come with it (a revert restores the old definition, limits included).
    const limits = flavorLimits(flavor.extraSpecs);
    await using undo = this.#undo(uuid);
    await this.#stopFor(uuid, def, this.#shutdownSeconds(), undo);
    // What a revert needs: the definition and the root disk as they were (Nova keeps <dir>_resize).
    const before = join(this.#disks(uuid), 'disk.pre-resize.qcow2');
    undo.push(`remove ${before}`, () => rm(before, { force: true }));
    await copyFile(root.path, before);
    await this.#save(def, 'vm.pre-resize.json');
    undo.push(`remove ${uuid}'s pre-resize definition`, () =>
      rm(this.#file(uuid, 'vm.pre-resize.json'), { force: true }),
    );
    const size = (await qemuImgInfo(root.path, root.format)).virtualSize;
    if (flavor.rootGb * GiB > size) {
      undo.push(`restore ${root.path} as it was`, () => copyFile(before, root.path));
      await qemuImgResize(root.path, root.format, flavor.rootGb * GiB);
    }
    const resized: VmDefinition = {
      ...def,
      vcpus: flavor.vcpus,
      memoryMb: flavor.memoryMb,
      cpuLimits: limits.cpu,
      disks: def.disks.map((d) =>
        d.bus === 'virtio' && d.id !== 'rescue' ? { ...d, limits: limits.disk } : d,
      ),
    };
    await this.#save(resized);
    undo.push(`restore ${uuid}'s definition`, () => this.#save(def));
    await this.#start(resized);
    undo.keep();
  }

  async revertResize(uuid: string, _flavor: FlavorSpec): Promise<void> {
    await this.#definition(uuid);
    if (!(await this.#has(uuid, 'vm.pre-resize.json')))
      throw new VirtError(`instance ${uuid} has no resize to revert`);
    const old = await this.#definition(uuid, 'vm.pre-resize.json');
    const root = old.disks.find((d) => d.id === 'root')!;
    await this.#stop(uuid, this.#shutdownSeconds());
    await rename(join(this.#disks(uuid), 'disk.pre-resize.qcow2'), root.path);
    await this.#save(old);
    await rm(this.#file(uuid, 'vm.pre-resize.json'), { force: true });
    await this.#start(old);
  }

  async confirmResize(uuid: string): Promise<void> {
    await this.#definition(uuid);
    await rm(join(this.#disks(uuid), 'disk.pre-resize.qcow2'), { force: true });
    await rm(this.#file(uuid, 'vm.pre-resize.json'), { force: true });
  }

  consoleSocket(uuid: string): string | null {
    return vmFiles(this.#dir(uuid)).vnc;
  }

  async consoleOutput(uuid: string, maxBytes: number): Promise<string> {
    await this.#definition(uuid);
    return readSerialTail(
      vmFiles(this.#dir(uuid)).serial,
      Math.min(maxBytes, this.#o.consoleBytes ?? 1 << 20),
    );
  }

  /** The definition a hot-plug changes: not while rescued (the rescue definition is thrown away) or suspended (the saved devices must match). */
  async #pluggable(uuid: string, what: string): Promise<VmDefinition> {
    const def = await this.#definition(uuid);
    if (await this.#has(uuid, 'vm.normal.json'))
      throw new VirtError(`cannot ${what} instance ${uuid} while it is rescued`);
    if (await this.#has(uuid, 'memory.state'))
      throw new VirtError(`cannot ${what} instance ${uuid} while it is suspended; resume it first`);
    return def;
  }

  async attachInterface(uuid: string, nic: NicSpec): Promise<void> {
    const { def, added } = withNic(await this.#pluggable(uuid, 'attach an interface to'), nic);
    await using undo = this.#undo(uuid);
    if (qemuPid(def.dir) !== null) {
      const { monitor } = await this.#qmp(uuid);
      await plugNic(monitor, added);
      undo.push(`unplug ${added.id} from ${uuid}`, () => unplug(monitor, `${added.id}-dev`));
    }
    await this.#save(def);
    undo.keep();
  }

  async detachInterface(uuid: string, portId: string): Promise<void> {
    const def = await this.#pluggable(uuid, 'detach an interface from');
    const nic = def.nics.find((n) => n.portId === portId);
    if (!nic) throw new VirtError(`port ${portId} is not attached to instance ${uuid}`);
    if (qemuPid(def.dir) !== null) await unplug((await this.#qmp(uuid)).monitor, `${nic.id}-dev`);
    await this.#save({ ...def, nics: def.nics.filter((n) => n !== nic) });
  }

  async attachVolume(uuid: string, volume: VolumeSpec): Promise<{ device: string }> {
    const { def, disk, device } = await withVolume(
      await this.#pluggable(uuid, 'attach a volume to'),
      volume,
    );
    await using undo = this.#undo(uuid);
    if (qemuPid(def.dir) !== null) {
      const { monitor } = await this.#qmp(uuid);
      await plugDisk(monitor, disk);
      undo.push(`unplug ${disk.id} from ${uuid}`, async () => {
        await unplug(monitor, `${disk.id}-dev`);
        await dropDiskNodes(monitor, disk);
      });
    }
    await this.#save(def);
    undo.keep();
    return { device };
  }

  async detachVolume(uuid: string, volumeId: string): Promise<void> {
    const def = await this.#pluggable(uuid, 'detach a volume from');
    const disk = def.disks.find((d) => d.volumeId === volumeId);
    if (!disk) throw new VirtError(`volume ${volumeId} is not attached to instance ${uuid}`);
    if (qemuPid(def.dir) !== null) {
      const { monitor } = await this.#qmp(uuid);
      await unplug(monitor, `${disk.id}-dev`);
      await dropDiskNodes(monitor, disk);
    }
    await this.#save({ ...def, disks: def.disks.filter((d) => d !== disk) });
  }

  async prepareMigration(
    spec: InstanceSpec,
    opts: { block: boolean | 'auto' },
  ): Promise<MigrationTarget> {
    // Shared storage, as Nova checks it: the destination sees the disks the source made.
    const shared =
      this.#shared() &&
      (await stat(join(this.#disks(spec.uuid), 'disk.qcow2')).then(
        () => true,
        () => false,
      ));
    if (shared && opts.block === true)
      throw new VirtError(
        `instance ${spec.uuid} is on storage this host shares with its source; migrate it without block migration`,
      );
    if (!shared && opts.block === false)
      throw new VirtError(
        `this host does not see the disks of instance ${spec.uuid} (no shared instance storage with its source); migrate it with block migration`,
      );
    // On shared storage the disks are the source's, in use: only this host's part is made here.
    let target: MigrationTarget | undefined;
    await this.#create(
      spec,
      async (def, undo) => {
        target = await this.#awaitIncoming(def, !shared, undo);
      },
      { disksExist: shared },
    );
    return target!;
  }

  /** Starts QEMU to wait for the guest (booting nothing), listening for its memory and, with `disks`, its disks. */
  async #awaitIncoming(def: VmDefinition, disks: boolean, undo: Undo): Promise<MigrationTarget> {
    // Autostarts once the guest is here if it ran on the source.
    await this.#start({ ...def, incoming: 'defer' }, undo);
    const t = await listenForMigration(
      (await this.#qmp(def.uuid)).monitor,
      def,
      this.#o.migrationAddress ?? '127.0.0.1',
      { disks },
      undo,
    );
    const incoming = this.#file(def.uuid, 'incoming');
    undo.push(`remove ${incoming}`, () => rm(incoming, { force: true }));
    await writeFile(incoming, `${JSON.stringify(t)}\n`);
    return t;
  }

  /** What a migration refuses: states it cannot carry, and devices the destination would not make from the spec. */
  async #movable(uuid: string, what: string): Promise<VmDefinition> {
    const def = await this.#definition(uuid);
    if ((await this.#has(uuid, 'vm.normal.json')) || (await this.#has(uuid, 'vm.pre-resize.json')))
      throw new VirtError(`cannot ${what} instance ${uuid} while it is rescued or resized`);
    if (def.disks.some((d) => d.volumeId !== undefined) || def.nics.some((n) => n.port)) {
      throw new VirtError(
        `cannot ${what} instance ${uuid} with hot-plugged volumes or interfaces yet; detach them first`,
      );
    }
    return def;
  }

  async migrate(uuid: string, target: MigrationTarget): Promise<void> {
    const def = await this.#movable(uuid, 'live-migrate');
    const { monitor, qmp } = await this.#qmp(uuid);
    const s = await qmp.status();
    if (s !== 'running' && s !== 'paused')
      throw new VirtError(`cannot live-migrate instance ${uuid}: it is ${s}`);
    await migrateOut(monitor, def, target);
    // The guest lives on the destination now: what was here goes (its disks too, unless they are shared and in use there).
    this.#monitors.expectExit(uuid);
    await (target.disks === null ? this.forget(uuid) : this.destroy(uuid));
  }

  async sendDisks(uuid: string, target: MigrationTarget): Promise<void> {
    const def = await this.#movable(uuid, 'migrate');
    {
      await using undo = this.#undo(uuid);
      await this.#stopFor(uuid, def, this.#shutdownSeconds(), undo);
      // A QEMU whose vCPUs never run carries the disks the way a live migration does (the root's
      // own clusters only); the guest's state it sends is that of a machine not yet started.
      await this.#start({ ...def, paused: true }, undo);
      await migrateOut((await this.#qmp(uuid)).monitor, def, target);
      undo.keep();
    }
    await this.#stop(uuid, 0);
  }

  async finishMigration(uuid: string, ok: boolean): Promise<void> {
    // Given up: what was made here goes; shared disks stay with the source.
    if (!ok) {
      await this.forget(uuid);
      return;
    }
    if (!(await this.#has(uuid, 'incoming')))
      throw new VirtError(`instance ${uuid} was not prepared for a migration here`);
    await this.#migrationDone(uuid, 60_000);
    const { monitor, qmp } = await this.#qmp(uuid);
    await stopListening(monitor);
    await rm(this.#file(uuid, 'incoming'), { force: true });
    // A machine never started (sendDisks) arrives in prelaunch: it is shut down here as it was there.
    if ((await qmp.status()) === 'prelaunch') await this.#stop(uuid, 0);
  }

  /** Stops watching and closes the monitor connections (the VMs keep running). */
  close(): void {
    clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
    this.#monitors.close();
  }
}
