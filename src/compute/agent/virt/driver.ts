// The virt driver seam, after Nova's ComputeDriver: what a host agent asks of a hypervisor. The
// JSDoc of each method is its contract, checked for every driver by driver.contract.ts. Drivers
// never touch the database; they learn everything from the specs they are given.
import type { Readable } from 'node:stream';

export const POWER_STATES = [
  'nostate',
  'running',
  'paused',
  'shutdown',
  'crashed',
  'suspended',
] as const;
/** Nova's power_state values, by name. */
export type PowerState = (typeof POWER_STATES)[number];

export interface FlavorSpec {
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly rootGb: number;
  readonly ephemeralGb: number;
  readonly swapMb: number;
  readonly extraSpecs: Readonly<Record<string, string>>;
}

export interface ImageSpec {
  readonly id: string;
  readonly diskFormat: string;
  readonly checksum: string | null;
  readonly properties: Readonly<Record<string, string>>;
  /** The image's bytes; a driver with an image cache reads them once per host. */
  open(): Promise<Readable>;
}

export interface NicSpec {
  readonly portId: string;
  readonly mac: string;
  /** Where the host network driver plugged the port (a bridge name), when there is one. */
  readonly bridge: string | null;
}

export interface InstanceSpec {
  readonly uuid: string;
  readonly name: string;
  readonly hostname: string;
  readonly flavor: FlavorSpec;
  readonly image: ImageSpec;
  readonly nics: readonly NicSpec[];
  /** What the guest reads from its config drive or the metadata service. */
  readonly metadata: {
    readonly publicKeys: Readonly<Record<string, string>>;
    readonly userData: string | null;
    readonly meta: Readonly<Record<string, string>>;
    readonly configDrive: boolean;
  };
}

/** A volume as a host sees it once the volume service has connected it here. */
export interface VolumeSpec {
  readonly volumeId: string;
  /** Where the volume's bytes are on this host: an image file or a block device. */
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  /** The guest device name wanted (vdb, ...); null lets the driver take the next free one. */
  readonly device: string | null;
  readonly readOnly: boolean;
}

/** Where a live migration's source sends the instance: what the destination's prepareMigration answered. */
export interface MigrationTarget {
  /** Where the running state (memory, devices) goes. */
  readonly uri: string;
  /** Where the disks go (block migration), or null when both hosts see the same disks (shared storage). */
  readonly disks: string | null;
}

export interface HostResources {
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
  readonly hypervisorType: string;
  readonly hypervisorVersion: number;
  readonly cpuInfo: string;
}

export interface InstanceInfo {
  readonly uuid: string;
  readonly powerState: PowerState;
}

/**
 * A power change nobody asked the driver for: the guest shut itself down, paused on an error or
 * crashed, or its hypervisor process died. The agent tells the cloud, which records it.
 */
export interface LifecycleEvent {
  readonly uuid: string;
  readonly powerState: PowerState;
  /** Why, when the change is a failure the cloud records as an instance fault; null for a clean shutdown from inside the guest. */
  readonly fault: string | null;
}

/**
 * A point in an operation that the caller may wait long on, told as it happens so that the cloud
 * can say why work takes long: a clean shutdown asked of the guest and awaited for up to `seconds`
 * (stop, shelve, a soft reboot, a resize), then either the guest stopped by itself or it did not
 * within them and is being forced off.
 */
export interface DriverStep {
  readonly uuid: string;
  readonly step: 'shutdown_wait' | 'shutdown_done' | 'shutdown_forced';
  readonly seconds: number;
}

/** What a driver can do, so callers never test a driver's name. */
export interface DriverCapabilities {
  readonly supportsPause: boolean;
  readonly supportsSuspend: boolean;
  readonly supportsRescue: boolean;
  readonly supportsSnapshot: boolean;
  readonly supportsResize: boolean;
  readonly supportsLiveMigration: boolean;
  readonly supportsAttachInterface: boolean;
  readonly supportsAttachVolume: boolean;
  readonly supportsConsoleLog: boolean;
  /** Each guest has a VNC server the agent's console proxy can reach (consoleSocket). */
  readonly supportsVncConsole: boolean;
}

/** A driver refused or failed an operation; `retryable` means another host may succeed. */
export class VirtError extends Error {
  readonly retryable: boolean;
  constructor(message: string, opts: { retryable?: boolean } = {}) {
    super(message);
    this.name = 'VirtError';
    this.retryable = opts.retryable ?? false;
  }
}

/** The instance does not exist on this host. */
export class InstanceNotOnHost extends VirtError {
  constructor(uuid: string) {
    super(`instance ${uuid} is not on this host`);
    this.name = 'InstanceNotOnHost';
  }
}

export interface VirtDriver {
  readonly capabilities: DriverCapabilities;

  /** What this host offers in total (not what is free): the agent reports it as inventory. */
  hostResources(): Promise<HostResources>;

  /** Every instance the hypervisor has on this host, running or not; the agent reconciles with it. */
  listInstances(): Promise<InstanceInfo[]>;

  /**
   * From now on calls `handler` for each lifecycle event of every instance on this host, including
   * those already running when the watch starts (an agent restarted; the driver may take a second
   * to attach to them): a killed hypervisor process is reported within seconds. What the driver
   * itself was asked to do (a power-off, a destroy) is no event. Returns the function that stops
   * watching; after it, the handler hears nothing more.
   */
  watch(handler: (e: LifecycleEvent) => void): () => void;

  /**
   * Optional: from now on calls `handler` at each step an operation waits on (DriverStep), for the
   * instance it is done to, in order; a driver whose operations never wait may leave it out.
   * Returns the function that stops telling.
   */
  steps?(handler: (s: DriverStep) => void): () => void;

  /** The instance's power state; InstanceNotOnHost if it is not here. */
  powerState(uuid: string): Promise<PowerState>;

  /**
   * Creates and starts the instance; resolves when it runs. On failure it leaves nothing behind on
   * the host (disks, processes, taps) and throws a VirtError (retryable when another host might do).
   * Spawning a uuid that exists already throws.
   */
  spawn(spec: InstanceSpec): Promise<void>;

  /**
   * Stops the instance and removes everything of it from the host. Destroying an instance that is
   * not here succeeds: destroy is what cleans up after any failure.
   */
  destroy(uuid: string): Promise<void>;
  /**
   * The instance runs on another host now (or is about to): stops it here and removes what this
   * host has of it, except disks on storage shared with other hosts, which are the instance's
   * wherever it runs. Without shared storage it is destroy. Forgetting what is not here succeeds.
   */
  forget(uuid: string): Promise<void>;

  /** Clean shutdown within `timeoutSeconds` (ACPI), then a hard stop. Already off: no-op. */
  powerOff(uuid: string, timeoutSeconds: number): Promise<void>;
  /** Starts a stopped instance. Already running: no-op. */
  powerOn(uuid: string): Promise<void>;
  /** Soft: the guest restarts itself (ACPI), falling back to hard; hard: a reset. Ends running. */
  reboot(uuid: string, kind: 'soft' | 'hard'): Promise<void>;
  /** Freezes the vCPUs in memory; unpause resumes them. */
  pause(uuid: string): Promise<void>;
  unpause(uuid: string): Promise<void>;
  /** Saves the guest's memory to disk and stops it; resume restores it. */
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  /** Boots the instance from `rescue` with its own root disk attached second; unrescue returns to normal. */
  rescue(uuid: string, rescue: ImageSpec): Promise<void>;
  unrescue(uuid: string): Promise<void>;
  /** Streams a point-in-time copy of the root disk (qcow2) to `sink`; the guest keeps running. */
  snapshot(
    uuid: string,
    sink: (data: Readable, diskFormat: string) => Promise<void>,
  ): Promise<void>;
  /** Gives the instance the new flavor's resources (restarting it); `revertResize` restores the old ones. */
  resize(uuid: string, flavor: FlavorSpec): Promise<void>;
  revertResize(uuid: string, flavor: FlavorSpec): Promise<void>;
  /** Keeps the resized instance as it is now: what revertResize would have needed goes. */
  confirmResize(uuid: string): Promise<void>;
  /** The last `maxBytes` of the guest's serial console log. */
  consoleOutput(uuid: string, maxBytes: number): Promise<string>;
  /** The UNIX socket of the guest's VNC server, or null when the driver gives guests no screen. */
  consoleSocket(uuid: string): string | null;
  attachInterface(uuid: string, nic: NicSpec): Promise<void>;
  detachInterface(uuid: string, portId: string): Promise<void>;
  /** Hot-plugs a volume; resolves with the guest device it got. The same volume twice throws. */
  attachVolume(uuid: string, volume: VolumeSpec): Promise<{ device: string }>;
  /** Unplugs a volume; one that is not attached throws. */
  detachVolume(uuid: string, volumeId: string): Promise<void>;
  /**
   * Live migration, on the destination: readies this host to receive `spec` and answers where the
   * source is to send it. `block`: the disks travel with it (empty ones are made here); false: both
   * hosts must see the same disks, and a host that does not throws; 'auto': block unless they do.
   */
  prepareMigration(spec: InstanceSpec, opts: { block: boolean | 'auto' }): Promise<MigrationTarget>;
  /**
   * On the source: sends the running (or paused) instance to `target`, which then runs it as it
   * ran here; once it resolves the instance is gone from this host. On failure it runs on here.
   */
  migrate(uuid: string, target: MigrationTarget): Promise<void>;
  /**
   * Cold migration, on the source: shuts the instance down (cleanly, within the shutdown timeout)
   * and sends its disks to `target`, which the destination's prepareMigration answered; the
   * instance stays here shut down (for a revert) until destroyed. On failure it is as it was.
   */
  sendDisks(uuid: string, target: MigrationTarget): Promise<void>;
  /**
   * On the destination, after the source (migrate or sendDisks): `ok` keeps the received instance
   * here as it was on the source (running, paused, or shut down); otherwise what was prepared is removed.
   */
  finishMigration(uuid: string, ok: boolean): Promise<void>;
}
