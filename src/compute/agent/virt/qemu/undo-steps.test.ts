// The undo stacks of the QEMU driver's QMP work, against a scripted monitor (no QEMU): a hot-plug
// whose device_add fails removes the block nodes it added, and a live migration that fails after
// its mirrors started cancels the migration, stops the mirrors and removes their targets, in that
// order, leaving the guest running at the source.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QmpCommandError, type QmpMonitor } from '../../../../host/qemu/qmp/monitor.ts';
import type { VmDefinition, VmDisk } from '../../../../host/qemu/argv.ts';
import { plugDisk } from './hotplug.ts';
import { migrateOut } from './live-migration.ts';
import { VirtError } from '../driver.ts';

/** A monitor that answers each command with `answer` (throw to refuse it) and logs it. */
function scripted(answer: (command: string, args?: Record<string, unknown>) => unknown) {
  const log: string[] = [];
  const m: QmpMonitor = {
    version: { major: 7, minor: 2, micro: 0 },
    run: async <T>(command: string, args?: Record<string, unknown>) => {
      log.push(args ? `${command} ${JSON.stringify(args)}` : command);
      return answer(command, args) as T;
    },
    on: () => () => {},
    next: () => new Promise(() => {}),
    closed: new Promise(() => {}),
    close: () => {},
  };
  return { m, log };
}

const disk: VmDisk = {
  id: 'vol1',
  path: '/dev/null',
  format: 'raw',
  bus: 'virtio',
  readOnly: false,
  boot: false,
  port: 'hp1',
};

describe('undo stacks of QMP work', () => {
  it('a hot-plug whose device_add fails removes the block nodes it added, last first', async () => {
    const { m, log } = scripted((c) => {
      if (c === 'device_add') throw new QmpCommandError(c, 'GenericError', 'Bus hp1 is full');
      return {};
    });
    await assert.rejects(
      plugDisk(m, disk),
      (e: unknown) =>
        e instanceof VirtError && /could not hot-plug .*Bus hp1 is full/.test(e.message),
    );
    assert.deepEqual(
      log.map((l) => l.split(' ')[0]),
      ['blockdev-add', 'blockdev-add', 'device_add', 'blockdev-del', 'blockdev-del'],
    );
    assert.match(log[3]!, /"node-name":"vol1"/);
    assert.match(log[4]!, /"node-name":"vol1-file"/);
  });

  it('a live migration refused after its mirror started cancels, stops the mirror, removes its target, and the guest runs on', async () => {
    let jobs = [{ device: 'mig-root', ready: true, status: 'ready' }];
    const { m, log } = scripted((c, args) => {
      switch (c) {
        case 'query-block-jobs':
          return jobs;
        case 'block-job-cancel':
          jobs = jobs.filter((j) => j.device !== args?.['device']);
          return {};
        case 'migrate':
          throw new QmpCommandError(c, 'GenericError', 'Failed to connect');
        case 'query-status':
          return { status: 'running', running: true };
        default:
          return {};
      }
    });
    const def = {
      uuid: '3c7a1f52-6b0e-4d8e-9a41-5f2b7c9d0e11',
      disks: [{ ...disk, id: 'root', port: null, boot: true }],
    } as unknown as VmDefinition;
    await assert.rejects(
      migrateOut(m, def, { uri: 'tcp:127.0.0.1:1', disks: 'nbd:127.0.0.1:10809' }),
      /live migration failed: QEMU refused migrate: Failed to connect/,
    );
    const after = log.slice(log.findIndex((l) => l.startsWith('migrate {')) + 1);
    assert.deepEqual(after, [
      'migrate_cancel',
      'query-block-jobs',
      'block-job-cancel {"device":"mig-root","force":true}',
      'query-block-jobs',
      'blockdev-del {"node-name":"mig-root-dst"}',
      'query-status',
    ]);
  });
});
