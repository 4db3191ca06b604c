// The QEMU virt driver: one QEMU process per instance, daemonized so it outlives the agent, driven
// over one persistent QMP connection per VM (vm-monitors.ts) that also reports what happens on its
// own. This class is the VirtDriver: it answers what concerns the host (resources, the instance
// list, the watch, consoles) and hands each operation to the module that owns it, all sharing one
// DriverContext (driver-context.ts): spawn.ts, power.ts, suspend.ts, rescue.ts, resize.ts,
// snapshot.ts, attachments.ts, migration.ts. Each instance directory holds everything of the instance:
//   vm.json            its definition, what a power-on starts (the rescue one while rescued)
//   vm.normal.json     the usual definition, while rescued
//   vm.pre-resize.json what a revert of a resize restores (with disk.pre-resize.qcow2)
//   memory.state       the guest's memory while suspended
//   incoming           while a migration comes here: where it is awaited
//   serial.log(.1)     the console; qmp.sock, vnc.sock, qemu.pid; disk.rescue.qcow2 while rescued
// and, unless instancesPath puts them on storage shared with other hosts, its disks
// (instance-definition.ts): disk.qcow2 (an overlay on the cached image), disk.eph0.raw,
// disk.swap.raw, config.iso, disk.pre-resize.qcow2.
import { mkdir, statfs } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import type { Readable } from 'node:stream';
import { vmFiles } from '../../../../host/qemu/argv.ts';
import { qemuPid } from '../../../../host/qemu/process.ts';
import { DriverContext, GiB, type QemuDriverOptions } from './driver-context.ts';
import { readSerialTail, rotateSerialLog } from './serial-log.ts';
import { destroy, forget, spawn } from './spawn.ts';
import { pause, powerOff, powerOn, powerState, reboot, unpause } from './power.ts';
import { resume, suspend } from './suspend.ts';
import { rescue, unrescue } from './rescue.ts';
import { snapshot } from './snapshot.ts';
import { confirmResize, resize, revertResize } from './resize.ts';
import { attachInterface, attachVolume, detachInterface, detachVolume } from './attachments.ts';
import { finishMigration, migrate, prepareMigration, sendDisks } from './migration.ts';
import type {
  DriverCapabilities,
  DriverStep,
  FlavorSpec,
  HostResources,
  ImageSpec,
  InstanceInfo,
  InstanceSpec,
  LifecycleEvent,
  MigrationTarget,
  NicSpec,
  PowerState,
  VirtDriver,
  VolumeSpec,
} from '../driver.ts';

export type { QemuDriverOptions } from './driver-context.ts';

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

export class QemuDriver implements VirtDriver {
  readonly capabilities = CAPABILITIES;
  readonly #ctx: DriverContext;
  #watchTimer: NodeJS.Timeout | undefined;

  constructor(o: QemuDriverOptions) {
    this.#ctx = new DriverContext(o);
  }

  async hostResources(): Promise<HostResources> {
    const o = this.#ctx.o;
    // The disk guests use is where their disks are: the shared instances path when there is one.
    const disks = o.instancesPath ?? o.stateDir;
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
        accel: o.accel,
        vendor: cpus()[0]?.model ?? 'unknown',
      }),
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const out: InstanceInfo[] = [];
    for (const uuid of await this.#ctx.uuids())
      out.push({ uuid, powerState: await this.powerState(uuid).catch(() => 'nostate' as const) });
    return out;
  }

  powerState(uuid: string): Promise<PowerState> {
    return powerState(this.#ctx, uuid);
  }

  watch(handler: (e: LifecycleEvent) => void): () => void {
    const monitors = this.#ctx.monitors;
    const off = monitors.watch(handler);
    if (!this.#watchTimer) {
      const tick = () => {
        void this.#housekeep().finally(() => {
          if (this.#watchTimer)
            this.#watchTimer = setTimeout(tick, this.#ctx.o.watchIntervalMs ?? 2000).unref();
        });
      };
      this.#watchTimer = setTimeout(tick, 0).unref();
    }
    return () => {
      off();
      if (!monitors.watched) {
        clearTimeout(this.#watchTimer);
        this.#watchTimer = undefined;
      }
    };
  }

  /** Attaches to running guests that have no monitor (after an agent restart) and keeps logs bounded. */
  async #housekeep(): Promise<void> {
    const ctx = this.#ctx;
    for (const uuid of await ctx.uuids().catch(() => [])) {
      const dir = ctx.dir(uuid);
      if (qemuPid(dir) !== null && !ctx.monitors.has(uuid))
        await ctx.monitors.get(uuid).catch(() => undefined);
      await rotateSerialLog(vmFiles(dir).serial, ctx.o.consoleBytes ?? 1 << 20).catch(() => false);
    }
  }

  steps(handler: (s: DriverStep) => void): () => void {
    this.#ctx.stepHandlers.add(handler);
    return () => {
      this.#ctx.stepHandlers.delete(handler);
    };
  }

  spawn(spec: InstanceSpec): Promise<void> {
    return spawn(this.#ctx, spec);
  }
  destroy(uuid: string): Promise<void> {
    return destroy(this.#ctx, uuid);
  }
  forget(uuid: string): Promise<void> {
    return forget(this.#ctx, uuid);
  }

  powerOff(uuid: string, timeoutSeconds: number): Promise<void> {
    return powerOff(this.#ctx, uuid, timeoutSeconds);
  }
  powerOn(uuid: string): Promise<void> {
    return powerOn(this.#ctx, uuid);
  }
  reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void> {
    return reboot(this.#ctx, uuid, kind);
  }
  pause(uuid: string): Promise<void> {
    return pause(this.#ctx, uuid);
  }
  unpause(uuid: string): Promise<void> {
    return unpause(this.#ctx, uuid);
  }

  suspend(uuid: string): Promise<void> {
    return suspend(this.#ctx, uuid);
  }
  resume(uuid: string): Promise<void> {
    return resume(this.#ctx, uuid);
  }

  rescue(uuid: string, image: ImageSpec): Promise<void> {
    return rescue(this.#ctx, uuid, image);
  }
  unrescue(uuid: string): Promise<void> {
    return unrescue(this.#ctx, uuid);
  }

  snapshot(
    uuid: string,
    sink: (data: Readable, diskFormat: string) => Promise<void>,
  ): Promise<void> {
    return snapshot(this.#ctx, uuid, sink);
  }

  resize(uuid: string, flavor: FlavorSpec): Promise<void> {
    return resize(this.#ctx, uuid, flavor);
  }
  revertResize(uuid: string, _flavor: FlavorSpec): Promise<void> {
    return revertResize(this.#ctx, uuid);
  }
  confirmResize(uuid: string): Promise<void> {
    return confirmResize(this.#ctx, uuid);
  }

  consoleSocket(uuid: string): string | null {
    return vmFiles(this.#ctx.dir(uuid)).vnc;
  }

  async consoleOutput(uuid: string, maxBytes: number): Promise<string> {
    await this.#ctx.definition(uuid);
    return readSerialTail(
      vmFiles(this.#ctx.dir(uuid)).serial,
      Math.min(maxBytes, this.#ctx.o.consoleBytes ?? 1 << 20),
    );
  }

  attachInterface(uuid: string, nic: NicSpec): Promise<void> {
    return attachInterface(this.#ctx, uuid, nic);
  }
  detachInterface(uuid: string, portId: string): Promise<void> {
    return detachInterface(this.#ctx, uuid, portId);
  }
  attachVolume(uuid: string, volume: VolumeSpec): Promise<{ device: string }> {
    return attachVolume(this.#ctx, uuid, volume);
  }
  detachVolume(uuid: string, volumeId: string): Promise<void> {
    return detachVolume(this.#ctx, uuid, volumeId);
  }

  prepareMigration(
    spec: InstanceSpec,
    opts: { block: boolean | 'auto' },
  ): Promise<MigrationTarget> {
    return prepareMigration(this.#ctx, spec, opts);
  }
  migrate(uuid: string, target: MigrationTarget): Promise<void> {
    return migrate(this.#ctx, uuid, target);
  }
  sendDisks(uuid: string, target: MigrationTarget): Promise<void> {
    return sendDisks(this.#ctx, uuid, target);
  }
  finishMigration(uuid: string, ok: boolean): Promise<void> {
    return finishMigration(this.#ctx, uuid, ok);
  }

  /** Stops watching and closes the monitor connections (the VMs keep running). */
  close(): void {
    clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
    this.#ctx.monitors.close();
  }
}
