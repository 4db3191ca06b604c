// The fake virt driver: a real in-memory hypervisor for tests, demos and thousand-host
// simulations. It accounts for the host's vCPUs, RAM and disk like a real host (spawn fails when
// they run out), keeps a console log per instance, and fails on purpose where options say so.
// With a state file its guests outlive the process, as a real hypervisor's (fake-state.ts).
import { Readable } from 'node:stream';
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
import { readGuests, saveGuest, type FakeGuest } from './fake-state.ts';

export interface FakeDriverOptions {
  readonly vcpus?: number;
  readonly memoryMb?: number;
  readonly diskGb?: number;
  /** Makes the n-th spawn on this driver (1-based) fail; return true for a retryable VirtError, or
   * a message for a VirtError that is not retryable (as a real host's words would be). */
  readonly failSpawn?: (spec: InstanceSpec, n: number) => boolean | string;
  /** Milliseconds each spawn takes (default 0), to simulate boot time. */
  readonly spawnDelayMs?: number;
  /** Guest vCPUs per host vCPU it runs before refusing (default 4, the cloud's default cpu ratio): a
   * hypervisor overcommits CPUs, not RAM or disk. */
  readonly cpuRatio?: number;
  /** Gives guests a "screen": the UNIX socket a test serves as each one's VNC server (default: none). */
  readonly vncSocket?: (uuid: string) => string;
  /** Makes a live migration's step on this driver fail when it answers true (prepare here as destination, migrate here as source). */
  readonly failMigration?: (step: 'prepare' | 'migrate', uuid: string) => boolean;
  /** Keeps the guests in this directory (a file each, rewritten at each change) so that they
   * survive a restart, as a real host's guests outlive its agent; none: in memory only. */
  readonly stateDir?: string;
}

type FakeInstance = FakeGuest;

/** Live migrations between fake drivers of one process: what a source sent, by target uri. */
const inFlight = new Map<string, { power: PowerState; console: string[] }>();

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
  supportsVncConsole: false,
};

export class FakeDriver implements VirtDriver {
  readonly capabilities: DriverCapabilities;
  readonly #total: { vcpus: number; memoryMb: number; diskGb: number };
  readonly #instances: Map<string, FakeInstance>;
  readonly #opts: FakeDriverOptions;
  readonly #id = crypto.randomUUID();
  #spawns = 0;
  readonly #watchers = new Set<(e: LifecycleEvent) => void>();

  constructor(opts: FakeDriverOptions = {}) {
    this.#opts = opts;
    this.#instances = opts.stateDir !== undefined ? readGuests(opts.stateDir) : new Map();
    this.capabilities = { ...CAPABILITIES, supportsVncConsole: opts.vncSocket !== undefined };
    this.#total = {
      vcpus: opts.vcpus ?? 16,
      memoryMb: opts.memoryMb ?? 32768,
      diskGb: opts.diskGb ?? 1024,
    };
  }

  /** Writes the guest as it now is (or its absence) to the state dir, if there is one: called at the end of every change. */
  #save(uuid: string): void {
    if (this.#opts.stateDir === undefined) return;
    try {
      saveGuest(this.#opts.stateDir, uuid, this.#instances.get(uuid));
    } catch (e) {
      throw new VirtError(`the fake host cannot save its guests: ${(e as Error).message}`);
    }
  }

  #get(uuid: string): FakeInstance {
    const i = this.#instances.get(uuid);
    if (!i) throw new InstanceNotOnHost(uuid);
    return i;
  }

  #log(i: FakeInstance, line: string): void {
    i.console.push(`fake: ${line}`);
    if (i.console.length > 1000) i.console.splice(0, i.console.length - 1000);
  }

  #require(i: FakeInstance, uuid: string, states: readonly PowerState[], what: string): void {
    if (!states.includes(i.power))
      throw new VirtError(`cannot ${what} instance ${uuid}: it is ${i.power}`);
  }

  /** Resources the instances on this host hold now. */
  used(): { vcpus: number; memoryMb: number; diskGb: number } {
    let vcpus = 0;
    let memoryMb = 0;
    let diskGb = 0;
    for (const i of this.#instances.values()) {
      vcpus += i.flavor.vcpus;
      memoryMb += i.flavor.memoryMb;
      diskGb += i.flavor.rootGb + i.flavor.ephemeralGb + Math.ceil(i.flavor.swapMb / 1024);
    }
    return { vcpus, memoryMb, diskGb };
  }

  #fits(flavor: FlavorSpec, minus: FlavorSpec | null = null): boolean {
    const u = this.used();
    const less = minus ?? { vcpus: 0, memoryMb: 0, rootGb: 0, ephemeralGb: 0, swapMb: 0 };
    return (
      u.vcpus - less.vcpus + flavor.vcpus <= this.#total.vcpus * (this.#opts.cpuRatio ?? 4) &&
      u.memoryMb - less.memoryMb + flavor.memoryMb <= this.#total.memoryMb &&
      u.diskGb - (less.rootGb + less.ephemeralGb) + flavor.rootGb + flavor.ephemeralGb <=
        this.#total.diskGb
    );
  }

  async hostResources(): Promise<HostResources> {
    return {
      ...this.#total,
      hypervisorType: 'fake',
      hypervisorVersion: 1000,
      cpuInfo: '{"model": "fake"}',
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    return [...this.#instances].map(([uuid, i]) => ({ uuid, powerState: i.power }));
  }

  async powerState(uuid: string): Promise<PowerState> {
    return this.#get(uuid).power;
  }

  watch(handler: (e: LifecycleEvent) => void): () => void {
    this.#watchers.add(handler);
    return () => {
      this.#watchers.delete(handler);
    };
  }

  /**
   * What a real host does on its own, for tests: the guest shuts itself down (no fault), crashes
   * or its process is killed (with the fault given). Watchers hear of it as they would from QEMU,
   * unless `silent` (a change nobody was watching: only the periodic power sync can find it).
   */
  simulate(
    uuid: string,
    powerState: PowerState,
    fault: string | null,
    opts: { silent?: boolean } = {},
  ): void {
    const i = this.#get(uuid);
    i.power = powerState;
    this.#log(i, fault ?? `power is now ${powerState}`);
    this.#save(uuid);
    if (!opts.silent) for (const w of this.#watchers) w({ uuid, powerState, fault });
  }

  async spawn(spec: InstanceSpec): Promise<void> {
    const n = ++this.#spawns;
    if (this.#instances.has(spec.uuid))
      throw new VirtError(`instance ${spec.uuid} already exists on this host`);
    if (this.#opts.spawnDelayMs) await new Promise((r) => setTimeout(r, this.#opts.spawnDelayMs));
    const fail = this.#opts.failSpawn?.(spec, n);
    if (typeof fail === 'string') throw new VirtError(fail, { retryable: false });
    if (fail !== undefined && fail !== false)
      throw new VirtError(`fake spawn failure (spawn #${n})`, { retryable: true });
    if (!this.#fits(spec.flavor))
      throw new VirtError(
        `not enough resources on this host for ${spec.flavor.vcpus} vCPU / ${spec.flavor.memoryMb} MB`,
        { retryable: true },
      );
    const i: FakeInstance = {
      flavor: spec.flavor,
      power: 'running',
      rescued: false,
      previousFlavor: null,
      nics: [...spec.nics],
      volumes: new Map(),
      console: [],
      incoming: false,
    };
    this.#instances.set(spec.uuid, i);
    this.#log(i, `spawned ${spec.hostname} from image ${spec.image.id}`);
    if (Object.keys(spec.metadata.publicKeys).length > 0)
      this.#log(i, `ssh keys installed ${Object.keys(spec.metadata.publicKeys).length}`);
    if (spec.metadata.userData !== null) this.#log(i, 'user-data received');
    try {
      this.#save(spec.uuid);
    } catch (e) {
      this.#instances.delete(spec.uuid);
      throw e;
    }
  }

  async destroy(uuid: string): Promise<void> {
    this.#instances.delete(uuid);
    this.#save(uuid);
  }
  /** Fake hosts share no storage: forgetting is destroying. */
  async forget(uuid: string): Promise<void> {
    await this.destroy(uuid);
  }

  async powerOff(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    if (i.power === 'shutdown') return;
    i.power = 'shutdown';
    this.#log(i, 'powered off');
    this.#save(uuid);
  }

  async powerOn(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    if (i.power === 'running') return;
    this.#require(i, uuid, ['shutdown', 'crashed'], 'power on');
    i.power = 'running';
    this.#log(i, 'powered on');
    this.#save(uuid);
  }

  async reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void> {
    const i = this.#get(uuid);
    if (kind === 'soft') this.#require(i, uuid, ['running'], 'soft-reboot');
    i.power = 'running';
    this.#log(i, `${kind} reboot`);
    this.#save(uuid);
  }

  async pause(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    this.#require(i, uuid, ['running'], 'pause');
    i.power = 'paused';
    this.#log(i, 'paused');
    this.#save(uuid);
  }
  async unpause(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    this.#require(i, uuid, ['paused'], 'unpause');
    i.power = 'running';
    this.#log(i, 'unpaused');
    this.#save(uuid);
  }
  async suspend(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    this.#require(i, uuid, ['running', 'paused'], 'suspend');
    i.power = 'suspended';
    this.#log(i, 'suspended');
    this.#save(uuid);
  }
  async resume(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    this.#require(i, uuid, ['suspended'], 'resume');
    i.power = 'running';
    this.#log(i, 'resumed');
    this.#save(uuid);
  }

  async rescue(uuid: string, rescue: ImageSpec): Promise<void> {
    const i = this.#get(uuid);
    if (i.rescued) throw new VirtError(`instance ${uuid} is already rescued`);
    i.rescued = true;
    i.power = 'running';
    this.#log(i, `rescued with image ${rescue.id}`);
    this.#save(uuid);
  }

  async unrescue(uuid: string): Promise<void> {
    const i = this.#get(uuid);
    if (!i.rescued) throw new VirtError(`instance ${uuid} is not rescued`);
    i.rescued = false;
    i.power = 'running';
    this.#log(i, 'unrescued');
    this.#save(uuid);
  }

  async snapshot(
    uuid: string,
    sink: (data: Readable, diskFormat: string) => Promise<void>,
  ): Promise<void> {
    const i = this.#get(uuid);
    // A tiny but real qcow2-looking payload would mislead; the fake snapshot is honest raw bytes.
    await sink(Readable.from([Buffer.from(`fake disk of ${uuid}\n`)]), 'raw');
    this.#log(i, 'snapshot taken');
    this.#save(uuid);
  }

  async resize(uuid: string, flavor: FlavorSpec): Promise<void> {
    const i = this.#get(uuid);
    if (!this.#fits(flavor, i.flavor))
      throw new VirtError(`not enough resources on this host to resize ${uuid}`, {
        retryable: true,
      });
    i.previousFlavor = i.flavor;
    i.flavor = flavor;
    i.power = 'running';
    this.#log(i, `resized to ${flavor.vcpus} vCPU / ${flavor.memoryMb} MB`);
    this.#save(uuid);
  }

  async revertResize(uuid: string, flavor: FlavorSpec): Promise<void> {
    const i = this.#get(uuid);
    i.flavor = flavor;
    i.previousFlavor = null;
    i.power = 'running';
    this.#log(i, 'resize reverted');
    this.#save(uuid);
  }

  async confirmResize(uuid: string): Promise<void> {
    this.#get(uuid).previousFlavor = null;
    this.#save(uuid);
  }

  /** In-memory guests have no screen, unless a test serves one (vncSocket). */
  consoleSocket(uuid: string): string | null {
    return this.#instances.has(uuid) ? (this.#opts.vncSocket?.(uuid) ?? null) : null;
  }

  async consoleOutput(uuid: string, maxBytes: number): Promise<string> {
    const text = this.#get(uuid)
      .console.map((l) => `${l}\n`)
      .join('');
    return text.length > maxBytes ? text.slice(text.length - maxBytes) : text;
  }

  async attachInterface(uuid: string, nic: NicSpec): Promise<void> {
    const i = this.#get(uuid);
    if (i.nics.some((n) => n.portId === nic.portId))
      throw new VirtError(`port ${nic.portId} is already attached to ${uuid}`);
    i.nics.push(nic);
    this.#log(i, `interface ${nic.mac} attached`);
    this.#save(uuid);
  }

  async detachInterface(uuid: string, portId: string): Promise<void> {
    const i = this.#get(uuid);
    const at = i.nics.findIndex((n) => n.portId === portId);
    if (at < 0) throw new VirtError(`port ${portId} is not attached to ${uuid}`);
    i.nics.splice(at, 1);
    this.#log(i, 'interface detached');
    this.#save(uuid);
  }

  async attachVolume(uuid: string, volume: VolumeSpec): Promise<{ device: string }> {
    const i = this.#get(uuid);
    if (i.volumes.has(volume.volumeId))
      throw new VirtError(`volume ${volume.volumeId} is already attached to ${uuid}`);
    const taken = new Set(i.volumes.values());
    const device =
      volume.device ??
      [...'bcdefghijklmnopqrstuvwxyz'].map((c) => `vd${c}`).find((d) => !taken.has(d));
    if (!device || taken.has(device))
      throw new VirtError(`no free device for volume ${volume.volumeId} on ${uuid}`);
    i.volumes.set(volume.volumeId, device);
    this.#log(i, `volume ${volume.volumeId} attached as ${device}`);
    this.#save(uuid);
    return { device };
  }

  async detachVolume(uuid: string, volumeId: string): Promise<void> {
    const i = this.#get(uuid);
    if (!i.volumes.delete(volumeId))
      throw new VirtError(`volume ${volumeId} is not attached to ${uuid}`);
    this.#log(i, `volume ${volumeId} detached`);
    this.#save(uuid);
  }

  async prepareMigration(
    spec: InstanceSpec,
    opts: { block: boolean | 'auto' },
  ): Promise<MigrationTarget> {
    if (this.#opts.failMigration?.('prepare', spec.uuid))
      throw new VirtError(`fake failure preparing to receive ${spec.uuid}`);
    if (this.#instances.has(spec.uuid))
      throw new VirtError(`instance ${spec.uuid} already exists on this host`);
    if (!this.#fits(spec.flavor))
      throw new VirtError(`not enough resources on this host to receive ${spec.uuid}`, {
        retryable: true,
      });
    this.#instances.set(spec.uuid, {
      flavor: spec.flavor,
      power: 'nostate',
      rescued: false,
      previousFlavor: null,
      nics: [...spec.nics],
      volumes: new Map(),
      console: [],
      incoming: true,
    });
    this.#save(spec.uuid);
    // Fake hosts have no disks to copy: shared storage and block migration are alike here.
    return {
      uri: `fake://${this.#id}/${spec.uuid}`,
      disks: opts.block !== false ? `fake-disks://${this.#id}/${spec.uuid}` : null,
    };
  }

  /** A fake host reaches only what another fake's prepareMigration answered for this instance. */
  #reachable(uuid: string, target: MigrationTarget): void {
    if (!/^fake:\/\/[0-9a-f-]+\/(.+)$/.test(target.uri) || !target.uri.endsWith(`/${uuid}`))
      throw new VirtError(
        `cannot migrate instance ${uuid} to ${target.uri}: no fake host prepared to receive it there`,
      );
  }

  async migrate(uuid: string, target: MigrationTarget): Promise<void> {
    const i = this.#get(uuid);
    if (i.incoming) throw new VirtError(`instance ${uuid} is itself arriving here`);
    this.#require(i, uuid, ['running', 'paused'], 'live-migrate');
    this.#reachable(uuid, target);
    if (this.#opts.failMigration?.('migrate', uuid))
      throw new VirtError(`fake failure migrating ${uuid}`);
    this.#log(i, `migrating to ${target.uri}`);
    inFlight.set(target.uri, { power: i.power, console: [...i.console] });
    this.#instances.delete(uuid);
    this.#save(uuid);
  }

  async sendDisks(uuid: string, target: MigrationTarget): Promise<void> {
    const i = this.#get(uuid);
    if (i.incoming) throw new VirtError(`instance ${uuid} is itself arriving here`);
    this.#reachable(uuid, target);
    if (this.#opts.failMigration?.('migrate', uuid))
      throw new VirtError(`fake failure sending the disks of ${uuid}`);
    if (i.power !== 'shutdown') {
      i.power = 'shutdown';
      this.#log(i, 'shut down for a cold migration');
    }
    this.#log(i, `disks sent to ${target.uri}`);
    inFlight.set(target.uri, { power: 'shutdown', console: [...i.console] });
    this.#save(uuid);
  }

  async finishMigration(uuid: string, ok: boolean): Promise<void> {
    if (!ok && !this.#instances.has(uuid)) return;
    const i = this.#get(uuid);
    if (!i.incoming) throw new VirtError(`instance ${uuid} was not prepared for a migration here`);
    const uri = `fake://${this.#id}/${uuid}`;
    const sent = inFlight.get(uri);
    inFlight.delete(uri);
    if (!ok) {
      this.#instances.delete(uuid);
      this.#save(uuid);
      return;
    }
    // From another process the fake cannot carry state: the guest arrives running.
    i.incoming = false;
    i.power = sent?.power ?? 'running';
    i.console = sent?.console ?? [];
    this.#log(i, 'arrived by live migration');
    this.#save(uuid);
  }
}
