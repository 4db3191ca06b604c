// A fake host whose driver calls a test holds open, to look at a server while its host works; its
// clean shutdowns (power off, soft reboot) tell their steps as QEMU's driver does, for a guest that
// ignores the power button: the wait begins at once, and once released the guest is forced off.
import type { DriverStep, VirtDriver } from '../../src/compute/agent/virt/driver.ts';
import type { ImageTransfer } from '../../src/compute/agent/instance-work.ts';

const GATES = [
  'spawn',
  'destroy',
  'powerOff',
  'powerOn',
  'reboot',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'rescue',
  'unrescue',
  'snapshot',
  'resize',
  'confirmResize',
  'upload',
] as const;
export type Gate = (typeof GATES)[number];

export class Gates {
  readonly #held = new Map<Gate, { opened: Promise<void>; open: () => void }>();
  /** Holds every call through `gate` from now until the returned function is called. */
  hold(gate: Gate): () => void {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    this.#held.set(gate, { opened, open });
    return () => {
      this.#held.delete(gate);
      open();
    };
  }
  async pass(gate: Gate): Promise<void> {
    await this.#held.get(gate)?.opened;
  }
}

const SHUTDOWN_SECONDS = 60;

/** `inner` with its gated calls held by `gates`, and the steps of its clean shutdowns told. */
export function heldDriver(inner: VirtDriver, gates: Gates): VirtDriver {
  const handlers = new Set<(s: DriverStep) => void>();
  const tell = (uuid: string, step: DriverStep['step']) => {
    for (const h of handlers) h({ uuid, step, seconds: SHUTDOWN_SECONDS });
  };
  const cleanShutdown = async (uuid: string) => {
    tell(uuid, 'shutdown_wait');
    await gates.pass('powerOff');
    tell(uuid, 'shutdown_forced');
  };
  const own: Partial<Record<keyof VirtDriver, unknown>> = {
    steps(h: (s: DriverStep) => void) {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    async powerOff(uuid: string, timeoutSeconds: number) {
      if (timeoutSeconds > 0 && (await inner.powerState(uuid)) === 'running')
        await cleanShutdown(uuid);
      else await gates.pass('powerOff');
      return inner.powerOff(uuid, timeoutSeconds);
    },
    async reboot(uuid: string, kind: 'soft' | 'hard') {
      await gates.pass('reboot');
      if (kind === 'soft') await cleanShutdown(uuid);
      return inner.reboot(uuid, kind);
    },
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop in own) return own[prop as keyof VirtDriver];
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      // The fake keeps private fields: its methods run on it, not on the proxy.
      const f = (v as (...a: unknown[]) => unknown).bind(target);
      if (!(GATES as readonly (string | symbol)[]).includes(prop)) return f;
      return async (...args: unknown[]) => {
        await gates.pass(prop as Gate);
        return f(...args);
      };
    },
  });
}

/** `inner` with its uploads held at the 'upload' gate (before any byte is read). */
export function heldUploads(inner: ImageTransfer, gates: Gates): ImageTransfer {
  return {
    open: (id) => inner.open(id),
    upload: async (id, data, format) => {
      await gates.pass('upload');
      await inner.upload(id, data, format);
    },
  };
}
