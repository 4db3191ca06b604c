// Typed QMP commands for migration: the source's `migrate` and its settings, the destination's
// `migrate-incoming` (a QEMU started with -incoming defer), and query-migrate, which both ends
// poll until the stream has completed or failed. Suspend and resume are migrations to a file too.
import type { QmpMonitor } from './monitor.ts';
import { num, object, str } from './reply.ts';

/** The migration capabilities the driver sets (QEMU has more). */
export type MigrationCapability = 'pause-before-switchover' | 'events';

export async function migrateSetCapabilities(
  m: QmpMonitor,
  capabilities: Partial<Record<MigrationCapability, boolean>>,
): Promise<void> {
  await m.run('migrate-set-capabilities', {
    capabilities: Object.entries(capabilities).map(([capability, state]) => ({
      capability,
      state,
    })),
  });
}

/** Bytes per second the migration stream may use (QEMU's own default is 32 MiB/s). */
export async function migrateSetMaxBandwidth(m: QmpMonitor, bytesPerSecond: number): Promise<void> {
  await m.run('migrate-set-parameters', { 'max-bandwidth': bytesPerSecond });
}

/** Sends the VM's state to `uri` (tcp:host:port, unix:path); returns once it has begun. */
export async function migrate(m: QmpMonitor, uri: string): Promise<void> {
  await m.run('migrate', { uri });
}

/** On a QEMU started with -incoming defer: listens on `uri` for the state. */
export async function migrateIncoming(m: QmpMonitor, uri: string): Promise<void> {
  await m.run('migrate-incoming', { uri });
}

/** Goes on from the pause `pause-before-switchover` made (state `pre-switchover`). */
export async function migrateContinue(m: QmpMonitor): Promise<void> {
  await m.run('migrate-continue', { state: 'pre-switchover' });
}

/** Gives up the outgoing migration; the VM stays here. */
export async function migrateCancel(m: QmpMonitor): Promise<void> {
  await m.run('migrate_cancel');
}

export interface MigrationInfo {
  /** Absent before any migration; then setup, active, pre-switchover, device, completed, failed, cancelled, ... */
  readonly status?: string;
  /** QEMU's reason, when it failed. */
  readonly errorDesc?: string;
  /** Guest memory to send in all, and still to send (bytes), while it is being sent. */
  readonly ram?: { readonly total: number; readonly remaining: number };
}

export async function queryMigrate(m: QmpMonitor): Promise<MigrationInfo> {
  const c = 'query-migrate';
  const r = object(c, await m.run(c));
  const status = str(c, r, 'status', true);
  const errorDesc = str(c, r, 'error-desc', true);
  const ram = r['ram'] === undefined ? undefined : object(c, r['ram']);
  return {
    ...(status !== undefined ? { status } : {}),
    ...(errorDesc !== undefined ? { errorDesc } : {}),
    ...(ram ? { ram: { total: num(c, ram, 'total'), remaining: num(c, ram, 'remaining') } } : {}),
  };
}
