// Typed QMP commands over a monitor (monitor.ts): the run state here, disks and block jobs in
// block.ts, migration in migration.ts, devices in devices.ts. Each says what QEMU does with it and
// checks what QEMU answers (reply.ts); waiting for the events that confirm it is the caller's
// business. Nothing outside this folder runs a command by its name.
import type { QmpMonitor } from './monitor.ts';
import { object, QmpUnexpectedReply, str } from './reply.ts';

/** QEMU's run states (query-status), the ones the driver tells apart. */
export const RUN_STATES = [
  'running',
  'paused',
  'prelaunch',
  'shutdown',
  'suspended',
  'inmigrate',
  'postmigrate',
  'finish-migrate',
  'guest-panicked',
  'internal-error',
  'io-error',
  'restore-vm',
  'save-vm',
  'watchdog',
  'colo',
  'debug',
] as const;
export type RunState = (typeof RUN_STATES)[number];

/** The guest's run state. */
export async function queryStatus(m: QmpMonitor): Promise<RunState> {
  const status = str('query-status', object('query-status', await m.run('query-status')), 'status');
  if (!(RUN_STATES as readonly string[]).includes(status))
    throw new QmpUnexpectedReply('query-status', 'a run state this driver does not know', status);
  return status as RunState;
}

/** The VM's UUID, as QEMU was given it (-uuid). */
export async function queryUuid(m: QmpMonitor): Promise<string> {
  return str('query-uuid', object('query-uuid', await m.run('query-uuid')), 'UUID');
}

/** A QOM property of an object (`path` such as /objects/root-tg), as QEMU answers it. */
export async function qomGet(m: QmpMonitor, path: string, property: string): Promise<unknown> {
  return m.run('qom-get', { path, property });
}

/** The run-state commands of one VM, bound to its monitor. */
export function qmpCommands(m: QmpMonitor) {
  return {
    status: () => queryStatus(m),
    /** ACPI power button: the guest decides whether and when to shut down. */
    powerdown: async () => void (await m.run('system_powerdown')),
    /** Hard reset, as the reset button. */
    reset: async () => void (await m.run('system_reset')),
    /** Freezes the vCPUs (a paused guest); cont runs them again. */
    stop: async () => void (await m.run('stop')),
    /** Runs the vCPUs (after stop, a paused start, or a migration that stopped the guest). */
    cont: async () => void (await m.run('cont')),
    /** QEMU exits at once; the monitor closes. */
    quit: async () => void (await m.run('quit')),
  };
}

export type QmpCommands = ReturnType<typeof qmpCommands>;
