// One QMP connection per running QEMU, kept open: QEMU's monitor socket takes one client at a
// time, so the commands the driver runs and the events it watches share it. Through it the driver
// hears what nobody asked for (the guest powered itself off, panicked, paused on an error) and
// notices at once when QEMU dies (the socket closes with no SHUTDOWN before it). Exits the driver
// causes itself are announced first (`expectExit`) and are not reported.
import { setTimeout as sleep } from 'node:timers/promises';
import { vmFiles } from '../../../../host/qemu/argv.ts';
import { qemuPid } from '../../../../host/qemu/process.ts';
import { connectQmp, type QmpMonitor } from '../../../../host/qemu/qmp/monitor.ts';
import type { QmpEvent } from '../../../../host/qemu/qmp/protocol.ts';
import type { LifecycleEvent } from '../driver.ts';

/** What a SHUTDOWN event's reason means for the cloud (QEMU's ShutdownCause). */
function exitEvent(uuid: string, shutdown: QmpEvent | undefined): LifecycleEvent {
  const reason = typeof shutdown?.data?.['reason'] === 'string' ? shutdown.data['reason'] : null;
  switch (reason) {
    case 'guest-shutdown':
      return { uuid, powerState: 'shutdown', fault: null };
    case 'guest-panic':
      return {
        uuid,
        powerState: 'crashed',
        fault: 'The guest kernel panicked; QEMU stopped the instance.',
      };
    case 'host-signal':
      return {
        uuid,
        powerState: 'shutdown',
        fault: "The instance's QEMU process was stopped by a signal on its host.",
      };
    case null:
      return {
        uuid,
        powerState: 'shutdown',
        fault:
          "The instance's QEMU process exited unexpectedly (killed or crashed) without shutting the guest down.",
      };
    default:
      return {
        uuid,
        powerState: 'shutdown',
        fault: `The instance's QEMU process exited (${reason}) without being asked to.`,
      };
  }
}

export class VmMonitors {
  readonly #dirOf: (uuid: string) => string;
  readonly #monitors = new Map<string, QmpMonitor>();
  readonly #connecting = new Map<string, Promise<QmpMonitor>>();
  /** Instances whose QEMU exit the driver itself is causing, by the pid of that QEMU (a later QEMU's exit is news again). */
  readonly #expected = new Map<string, number>();
  /** Monitors closed on purpose (destroy, driver shutdown): their end says nothing about the guest. */
  readonly #closedByUs = new WeakSet<QmpMonitor>();
  readonly #handlers = new Set<(e: LifecycleEvent) => void>();
  #closed = false;

  constructor(dirOf: (uuid: string) => string) {
    this.#dirOf = dirOf;
  }

  /** The monitor of a running instance, connected on first use (and again after QEMU restarted). */
  async get(uuid: string): Promise<QmpMonitor> {
    const m = this.#monitors.get(uuid);
    if (m) return m;
    let pending = this.#connecting.get(uuid);
    if (!pending) {
      pending = this.#connect(uuid).finally(() => this.#connecting.delete(uuid));
      this.#connecting.set(uuid, pending);
    }
    return pending;
  }

  /** Whether a monitor is connected (the watch loop attaches to running guests that lack one). */
  has(uuid: string): boolean {
    return this.#monitors.has(uuid) || this.#connecting.has(uuid);
  }

  async #connect(uuid: string): Promise<QmpMonitor> {
    const dir = this.#dirOf(uuid);
    const m = await connectQmp(vmFiles(dir).qmp);
    // Closed while this connection was being made: QEMU takes one monitor client, so let it go.
    if (this.#closed) {
      this.#closedByUs.add(m);
      m.close();
      throw new Error('the QEMU driver is closed');
    }
    const pid = qemuPid(dir);
    this.#monitors.set(uuid, m);
    let shutdown: QmpEvent | undefined;
    m.on((e) => {
      shutdown = e;
    }, 'SHUTDOWN');
    m.on(
      () => this.#emit({ uuid, powerState: 'crashed', fault: 'The guest kernel panicked.' }),
      'GUEST_PANICKED',
    );
    m.on((e) => {
      if (e.data?.['status'] === 'io-error' || e.data?.['status'] === 'internal-error') {
        this.#emit({
          uuid,
          powerState: 'paused',
          fault: `QEMU paused the instance on an ${String(e.data['status'])}.`,
        });
      }
    }, 'RUN_STATE_CHANGE');
    void m.closed.then(async () => {
      if (this.#monitors.get(uuid) === m) this.#monitors.delete(uuid);
      // The socket closes a moment before the process is gone.
      for (let n = 0; n < 100 && qemuPid(dir) !== null; n++) await sleep(20);
      if (this.#closedByUs.has(m) || qemuPid(dir) !== null) return; // only the connection went: the watch loop reconnects
      if (pid !== null && this.#expected.get(uuid) === pid) {
        this.#expected.delete(uuid);
        return;
      }
      this.#emit(exitEvent(uuid, shutdown));
    });
    return m;
  }

  /** The driver is about to stop this instance's QEMU itself: its exit is not news. */
  expectExit(uuid: string): void {
    const pid = qemuPid(this.#dirOf(uuid));
    if (pid !== null) this.#expected.set(uuid, pid);
  }

  /** Closes the instance's monitor (destroy) without reporting anything. */
  forget(uuid: string): void {
    const m = this.#monitors.get(uuid);
    this.#monitors.delete(uuid);
    this.#expected.delete(uuid);
    if (m) {
      this.#closedByUs.add(m);
      m.close();
    }
  }

  watch(handler: (e: LifecycleEvent) => void): () => void {
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  get watched(): boolean {
    return this.#handlers.size > 0;
  }

  #emit(e: LifecycleEvent): void {
    for (const h of this.#handlers) {
      try {
        h(e);
      } catch {
        /* a handler's failure is its own business */
      }
    }
  }

  /** Closes every connection; the VMs keep running. */
  close(): void {
    this.#closed = true;
    for (const m of this.#monitors.values()) {
      this.#closedByUs.add(m);
      m.close();
    }
    this.#monitors.clear();
  }
}
