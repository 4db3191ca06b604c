// Typed QMP commands the QEMU driver uses, over a monitor (monitor.ts). Each says what QEMU does
// with it; waiting for the events that confirm it is the caller's business.
import type { QmpMonitor } from './monitor.ts';

/** QEMU's run states (query-status), the ones the driver tells apart. */
export type RunState =
  | 'running'
  | 'paused'
  | 'prelaunch'
  | 'shutdown'
  | 'suspended'
  | 'inmigrate'
  | 'postmigrate'
  | 'finish-migrate'
  | 'guest-panicked'
  | 'internal-error'
  | 'io-error'
  | 'restore-vm'
  | 'save-vm'
  | 'watchdog'
  | 'colo'
  | 'debug';

export function qmpCommands(m: QmpMonitor) {
  return {
    status: async (): Promise<RunState> =>
      (await m.run<{ status: RunState }>('query-status')).status,
    /** ACPI power button: the guest decides whether and when to shut down. */
    powerdown: () => m.run('system_powerdown'),
    /** Hard reset, as the reset button. */
    reset: () => m.run('system_reset'),
    /** Freezes the vCPUs (a paused guest); cont runs them again. */
    stop: () => m.run('stop'),
    cont: () => m.run('cont'),
    /** QEMU exits at once; the monitor closes. */
    quit: () => m.run('quit'),
  };
}

export type QmpCommands = ReturnType<typeof qmpCommands>;
