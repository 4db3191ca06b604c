// The QEMU virt driver: one QEMU process per instance, daemonized so it outlives the agent, driven
// over QMP on a socket in the instance's directory. Each instance directory holds its qcow2
// overlay on the cached image, its config drive, its definition (vm.json, what a power-on starts
// again) and its serial log. First steps of issue 6: spawn, destroy, power, reboot, pause, snapshot
// and the console; the other operations say plainly that they are not there yet.
import { mkdir, readFile, rm, writeFile, readdir, stat, open } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { qemuImgConvert, qemuImgCreate } from '../../../../host/qemu-img.ts';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { buildConfigDrive } from '../../../../host/config-drive.ts';
import { vmFiles, type VmDefinition } from '../../../../host/qemu/argv.ts';
import { killQemu, qemuPid, startQemu, waitQemuExit } from '../../../../host/qemu/process.ts';
import { connectQmp, type QmpMonitor } from '../../../../host/qemu/qmp/monitor.ts';
import { qmpCommands, type RunState } from '../../../../host/qemu/qmp/commands.ts';
import { createImageCache, type ImageCache } from './image-cache.ts';
import {
  InstanceNotOnHost, VirtError,
  type DriverCapabilities, type FlavorSpec, type HostResources, type ImageSpec, type InstanceInfo, type InstanceSpec, type MigrationTarget, type NicSpec,
  type PowerState, type VirtDriver, type VolumeSpec,
} from '../driver.ts';

export interface QemuDriverOptions {
  /** Where instance directories and the image cache live (e.g. <data-dir>/compute). */
  readonly stateDir: string;
  readonly accel: 'kvm' | 'tcg';
  /** Bytes of serial log `consoleOutput` reads back at most. */
  readonly consoleBytes?: number;
  /** How long a soft reboot waits for the guest to shut down before stopping it hard (default 120 s). */
  readonly softRebootSeconds?: number;
}

const CAPABILITIES: DriverCapabilities = {
  supportsPause: true, supportsSuspend: false, supportsRescue: false, supportsSnapshot: true, supportsResize: false,
  supportsLiveMigration: false, supportsAttachInterface: false, supportsAttachVolume: false, supportsConsoleLog: true,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const notYet = (what: string) => new VirtError(`the qemu driver cannot ${what} yet`);

function powerOf(s: RunState): PowerState {
  switch (s) {
    case 'running': return 'running';
    case 'paused': case 'prelaunch': case 'inmigrate': case 'postmigrate': case 'finish-migrate': case 'restore-vm': case 'save-vm': case 'debug': case 'colo': return 'paused';
    case 'suspended': return 'suspended';
    case 'guest-panicked': case 'internal-error': case 'io-error': case 'watchdog': return 'crashed';
    case 'shutdown': return 'shutdown';
  }
}

export class QemuDriver implements VirtDriver {
  readonly capabilities = CAPABILITIES;
  readonly #o: QemuDriverOptions;
  readonly #cache: ImageCache;
  readonly #monitors = new Map<string, QmpMonitor>();

  constructor(o: QemuDriverOptions) {
    this.#o = o;
    this.#cache = createImageCache(join(o.stateDir, 'image-cache'));
  }

  #dir(uuid: string): string {
    // Instance ids name directories: only UUIDs, so none can point elsewhere.
    if (!UUID.test(uuid)) throw new VirtError(`instance id ${uuid} is not a UUID`);
    return join(this.#o.stateDir, 'instances', uuid);
  }

  async #exists(uuid: string): Promise<boolean> {
    return stat(join(this.#dir(uuid), 'vm.json')).then(() => true, () => false);
  }

  async #definition(uuid: string): Promise<VmDefinition> {
    if (!(await this.#exists(uuid))) throw new InstanceNotOnHost(uuid);
    return JSON.parse(await readFile(join(this.#dir(uuid), 'vm.json'), 'utf8')) as VmDefinition;
  }

  /** The QMP monitor of a running instance (connected once, again after QEMU restarted). */
  async #qmp(uuid: string) {
    const dir = this.#dir(uuid);
    if (qemuPid(dir) === null) throw new VirtError(`instance ${uuid} is not running`);
    let m = this.#monitors.get(uuid);
    if (!m) {
      m = await connectQmp(vmFiles(dir).qmp);
      this.#monitors.set(uuid, m);
      const mine = m;
      void m.closed.then(() => { if (this.#monitors.get(uuid) === mine) this.#monitors.delete(uuid); });
    }
    return { monitor: m, qmp: qmpCommands(m) };
  }

  async hostResources(): Promise<HostResources> {
    await mkdir(this.#o.stateDir, { recursive: true, mode: 0o700 });
    const fs = await statfs(this.#o.stateDir);
    return {
      vcpus: cpus().length, memoryMb: Math.floor(totalmem() / 2 ** 20), diskGb: Math.floor((fs.blocks * fs.bsize) / 2 ** 30),
      hypervisorType: 'QEMU', hypervisorVersion: 7002000, cpuInfo: JSON.stringify({ arch: 'x86_64', accel: this.#o.accel, vendor: cpus()[0]?.model ?? 'unknown' }),
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const root = join(this.#o.stateDir, 'instances');
    const names = await readdir(root).catch(() => [] as string[]);
    const out: InstanceInfo[] = [];
    for (const uuid of names.filter((n) => UUID.test(n))) if (await this.#exists(uuid)) out.push({ uuid, powerState: await this.powerState(uuid) });
    return out;
  }

  async powerState(uuid: string): Promise<PowerState> {
    if (!(await this.#exists(uuid))) throw new InstanceNotOnHost(uuid);
    if (qemuPid(this.#dir(uuid)) === null) return 'shutdown';
    try {
      return powerOf(await (await this.#qmp(uuid)).qmp.status());
    } catch {
      return qemuPid(this.#dir(uuid)) === null ? 'shutdown' : 'nostate';
    }
  }

  async spawn(spec: InstanceSpec): Promise<void> {
    const dir = this.#dir(spec.uuid);
    if (await this.#exists(spec.uuid)) throw new VirtError(`instance ${spec.uuid} already exists on this host`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      const base = await this.#cache.ensure(spec.image);
      const root = join(dir, 'disk.qcow2');
      // The overlay is the flavor's root size, or the image's when the flavor says 0 (or is smaller).
      await qemuImgCreate(root, 'qcow2', Math.max(spec.flavor.rootGb * 2 ** 30, base.virtualSize), { backing: base.path, backingFormat: base.format });
      // No metadata service yet: every guest gets a config drive (Nova's force_config_drive).
      const iso = join(dir, 'config.iso');
      await buildConfigDrive(iso, {
        uuid: spec.uuid, name: spec.name, hostname: spec.hostname, projectId: '', availabilityZone: null, launchIndex: 0,
        publicKeys: spec.metadata.publicKeys, meta: spec.metadata.meta, userData: spec.metadata.userData,
      });
      const def: VmDefinition = {
        name: spec.name.replace(/[^\w.-]/g, '-').slice(0, 60) || spec.uuid, uuid: spec.uuid, accel: this.#o.accel, vcpus: spec.flavor.vcpus,
        memoryMb: spec.flavor.memoryMb, dir,
        disks: [
          { id: 'root', path: root, format: 'qcow2', bus: 'virtio', readOnly: false, boot: true },
          { id: 'config', path: iso, format: 'raw', bus: 'cdrom', readOnly: true, boot: false },
        ],
        nics: spec.nics.map((n, i) => ({ id: `net${i}`, mac: n.mac, tap: null })), direct: null, hotplugPorts: 4, paused: false, incoming: null,
      };
      await writeFile(join(dir, 'vm.json'), JSON.stringify(def, null, 2), { mode: 0o600 });
      await startQemu(def);
    } catch (e) {
      // Spawn leaves nothing behind, by contract.
      await killQemu(dir);
      await rm(dir, { recursive: true, force: true });
      throw e instanceof VirtError ? e : new VirtError(`could not start instance ${spec.uuid}: ${(e as Error).message}`, { retryable: true });
    }
  }

  async destroy(uuid: string): Promise<void> {
    const dir = this.#dir(uuid);
    this.#monitors.get(uuid)?.close();
    await killQemu(dir);
    await rm(dir, { recursive: true, force: true });
  }

  async powerOff(uuid: string, timeoutSeconds: number): Promise<void> {
    const dir = this.#dir(uuid);
    await this.#definition(uuid);
    if (qemuPid(dir) === null) return;
    // ACPI first: a guest that handles the power button shuts down cleanly and QEMU exits.
    try { await (await this.#qmp(uuid)).qmp.powerdown(); } catch { /* fall through to the hard stop */ }
    if (await waitQemuExit(dir, timeoutSeconds * 1000)) return;
    try { await (await this.#qmp(uuid)).qmp.quit(); } catch { /* killed below */ }
    if (!(await waitQemuExit(dir, 5000))) await killQemu(dir);
  }

  async powerOn(uuid: string): Promise<void> {
    const def = await this.#definition(uuid);
    if (qemuPid(def.dir) !== null) return;
    await startQemu(def);
  }

  async reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void> {
    const def = await this.#definition(uuid);
    if (kind === 'hard') {
      if (qemuPid(def.dir) === null) { await startQemu(def); return; }
      const { qmp } = await this.#qmp(uuid);
      if (await qmp.status() === 'paused') await qmp.cont();
      await qmp.reset();
      return;
    }
    if (qemuPid(def.dir) === null) throw new VirtError(`cannot soft-reboot instance ${uuid}: it is shut down`);
    // Soft: a clean shutdown within 2 minutes (hard stop after), then a fresh start, as Nova's libvirt driver.
    await this.powerOff(uuid, this.#o.softRebootSeconds ?? 120);
    await startQemu(def);
  }

  async pause(uuid: string): Promise<void> {
    await this.#definition(uuid);
    const { qmp } = await this.#qmp(uuid);
    if (await qmp.status() !== 'running') throw new VirtError(`cannot pause instance ${uuid}: it is not running`);
    await qmp.stop();
  }

  async unpause(uuid: string): Promise<void> {
    await this.#definition(uuid);
    const { qmp } = await this.#qmp(uuid);
    if (await qmp.status() !== 'paused') throw new VirtError(`cannot unpause instance ${uuid}: it is not paused`);
    await qmp.cont();
  }

  async consoleOutput(uuid: string, maxBytes: number): Promise<string> {
    await this.#definition(uuid);
    const path = vmFiles(this.#dir(uuid)).serial;
    const fh = await open(path, 'r').catch(() => undefined);
    if (!fh) return '';
    try {
      const size = (await fh.stat()).size;
      const want = Math.min(size, maxBytes, this.#o.consoleBytes ?? 1 << 20);
      const buf = Buffer.alloc(want);
      await fh.read(buf, 0, want, size - want);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  }

  async suspend(_uuid: string): Promise<void> { throw notYet('suspend'); }
  async resume(_uuid: string): Promise<void> { throw notYet('resume'); }
  async rescue(_uuid: string, _rescue: ImageSpec): Promise<void> { throw notYet('rescue'); }
  async unrescue(_uuid: string): Promise<void> { throw notYet('unrescue'); }
  async snapshot(uuid: string, sink: (data: Readable, diskFormat: string) => Promise<void>): Promise<void> {
    const def = await this.#definition(uuid);
    const root = def.disks.find((d) => d.id === 'root');
    if (!root) throw new VirtError(`instance ${uuid} has no root disk to snapshot`);
    const out = join(def.dir, `snapshot-${Date.now()}.qcow2`);
    const running = qemuPid(def.dir) !== null && (await (await this.#qmp(uuid)).qmp.status()) === 'running';
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
  async resize(_uuid: string, _flavor: FlavorSpec): Promise<void> { throw notYet('resize'); }
  async revertResize(_uuid: string, _flavor: FlavorSpec): Promise<void> { throw notYet('revert a resize'); }
  async attachInterface(_uuid: string, _nic: NicSpec): Promise<void> { throw notYet('attach interfaces'); }
  async detachInterface(_uuid: string, _portId: string): Promise<void> { throw notYet('detach interfaces'); }
  async attachVolume(_uuid: string, _volume: VolumeSpec): Promise<{ device: string }> { throw notYet('attach volumes'); }
  async detachVolume(_uuid: string, _volumeId: string): Promise<void> { throw notYet('detach volumes'); }
  async prepareMigration(_spec: InstanceSpec): Promise<MigrationTarget> { throw notYet('live-migrate'); }
  async migrate(_uuid: string, _target: MigrationTarget): Promise<void> { throw notYet('live-migrate'); }
  async finishMigration(_uuid: string, _ok: boolean): Promise<void> { throw notYet('live-migrate'); }

  /** Closes the monitor connections (the VMs keep running). */
  close(): void {
    for (const m of this.#monitors.values()) m.close();
    this.#monitors.clear();
  }
}
