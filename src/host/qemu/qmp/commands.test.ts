// The typed QMP commands against scripted replies (no QEMU): arguments as QEMU spells them, and
// replies checked before they are trusted, so a reply in an unknown shape fails naming its command.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QmpMonitor } from './monitor.ts';
import { queryStatus } from './commands.ts';
import { blockdevAdd, queryBlockJobs } from './block.ts';
import { migrateSetCapabilities, queryMigrate } from './migration.ts';
import { QmpUnexpectedReply } from './reply.ts';

function answering(reply: unknown) {
  const sent: { command: string; args: Record<string, unknown> | undefined }[] = [];
  const m: QmpMonitor = {
    version: { major: 7, minor: 2, micro: 0 },
    run: async <T>(command: string, args?: Record<string, unknown>) => {
      sent.push({ command, args });
      return reply as T;
    },
    on: () => () => {},
    next: () => new Promise(() => {}),
    closed: new Promise(() => {}),
    close: () => {},
  };
  return { m, sent };
}

describe('typed QMP commands', () => {
  it('checks the run state QEMU answers', async () => {
    assert.equal(await queryStatus(answering({ status: 'paused', running: false }).m), 'paused');
    await assert.rejects(
      queryStatus(answering({ status: 'dreaming' }).m),
      (e: unknown) => e instanceof QmpUnexpectedReply && /query-status/.test(e.message),
    );
    await assert.rejects(queryStatus(answering([]).m), QmpUnexpectedReply);
  });

  it('reads query-migrate and query-block-jobs into typed values, and refuses other shapes', async () => {
    assert.deepEqual(
      await queryMigrate(answering({ status: 'active', ram: { total: 10, remaining: 4 } }).m),
      { status: 'active', ram: { total: 10, remaining: 4 } },
    );
    assert.deepEqual(await queryMigrate(answering({}).m), {});
    assert.deepEqual(
      await queryMigrate(answering({ status: 'failed', 'error-desc': 'no route' }).m),
      { status: 'failed', errorDesc: 'no route' },
    );
    await assert.rejects(queryMigrate(answering({ status: 3 }).m), /"status"/);
    assert.deepEqual(
      await queryBlockJobs(
        answering([{ device: 'mig-root', ready: false, status: 'running', len: 5 }]).m,
      ),
      [{ device: 'mig-root', ready: false, status: 'running' }],
    );
    await assert.rejects(queryBlockJobs(answering({}).m), QmpUnexpectedReply);
  });

  it('spells the arguments as QEMU wants them', async () => {
    const a = answering({});
    await blockdevAdd(a.m, {
      driver: 'nbd',
      nodeName: 'mig-root-dst',
      host: '::1',
      port: '10809',
      export: 'root',
    });
    await migrateSetCapabilities(a.m, { 'pause-before-switchover': true, events: true });
    assert.deepEqual(a.sent, [
      {
        command: 'blockdev-add',
        args: {
          driver: 'nbd',
          'node-name': 'mig-root-dst',
          export: 'root',
          server: { type: 'inet', host: '::1', port: '10809' },
        },
      },
      {
        command: 'migrate-set-capabilities',
        args: {
          capabilities: [
            { capability: 'pause-before-switchover', state: true },
            { capability: 'events', state: true },
          ],
        },
      },
    ]);
  });
});
