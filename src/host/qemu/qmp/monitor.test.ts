// The QMP monitor against a real QEMU (an empty machine: no guest needed to speak QMP): the
// greeting and capabilities, commands matched to replies, errors as QEMU names them, events
// (STOP, RESUME, SHUTDOWN), and the connection ending when QEMU quits. The framing on its own too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectQmp, QmpCommandError, QmpDisconnected } from './monitor.ts';
import { classify, LineSplitter } from './protocol.ts';
import { qmpCommands } from './commands.ts';
import { haveCommand } from '../../exec.ts';

const QEMU = 'qemu-system-x86_64';

describe('QMP framing', () => {
  it('splits lines across chunks and tells greeting, replies, errors and events apart', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('{"return": {}, "id": 1}\n{"event": "ST'), ['{"return": {}, "id": 1}']);
    assert.deepEqual(s.push('OP", "timestamp": {"seconds": 1, "microseconds": 2}}\n'), [
      '{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}',
    ]);
    assert.equal(
      classify(
        '{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}',
      ).kind,
      'greeting',
    );
    assert.deepEqual(classify('{"error": {"class": "GenericError", "desc": "no"}, "id": 3}'), {
      kind: 'error',
      id: 3,
      errorClass: 'GenericError',
      desc: 'no',
    });
    assert.throws(() => classify('{"what": 1}'), /not a QMP message/);
  });
});

describe(
  'QMP monitor on a real QEMU',
  {
    skip: (await haveCommand(QEMU))
      ? false
      : `${QEMU} is not installed (bin/nubes installs qemu-system-x86)`,
  },
  () => {
    it('runs commands, reports errors and events, and notices QEMU quitting', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nubes-qmp-'));
      const sock = join(dir, 'qmp.sock');
      const qemu = spawn(
        QEMU,
        [
          '-machine',
          'none',
          '-nodefaults',
          '-display',
          'none',
          '-serial',
          'none',
          '-monitor',
          'none',
          '-qmp',
          `unix:${sock},server=on,wait=off`,
        ],
        { stdio: 'ignore' },
      );
      const lines: string[] = [];
      try {
        const m = await connectQmp(sock, { log: (l) => lines.push(l) });
        assert.ok(m.version.major >= 5, `QEMU ${m.version.major}.${m.version.minor}`);
        const version = await m.run<{ qemu: { major: number } }>('query-version');
        assert.equal(version.qemu.major, m.version.major);
        const qmp = qmpCommands(m);
        assert.equal(await qmp.status(), 'running');
        const stopped = m.next('STOP', 5000);
        await qmp.stop();
        await stopped;
        assert.equal(await qmp.status(), 'paused');
        const resumed = m.next('RESUME', 5000);
        await qmp.cont();
        await resumed;
        await assert.rejects(
          m.run('no-such-command'),
          (e: unknown) => e instanceof QmpCommandError && e.errorClass === 'CommandNotFound',
        );
        // Replies are matched by id, whatever order they are awaited in.
        const [a, b] = await Promise.all([
          m.run<{ status: string }>('query-status'),
          m.run<{ qemu: unknown }>('query-version'),
        ]);
        assert.equal(a.status, 'running');
        assert.ok(b.qemu);
        const shutdown = m.next('SHUTDOWN', 5000);
        await qmp.quit();
        await shutdown;
        await m.closed;
        await assert.rejects(m.run('query-status'), QmpDisconnected);
        assert.ok(
          lines.some((l) => l.startsWith('qmp stop')) &&
            lines.some((l) => l.startsWith('qmp event STOP')),
          'commands and events are logged',
        );
      } finally {
        qemu.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('gives up with a clear error when no QEMU listens', async () => {
      await assert.rejects(
        connectQmp('/nonexistent/qmp.sock', { connectTimeoutMs: 200 }),
        /cannot reach QEMU's monitor at \/nonexistent\/qmp.sock/,
      );
    });
  },
);
