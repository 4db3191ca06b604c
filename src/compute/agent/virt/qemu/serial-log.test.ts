import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSerialTail, rotateSerialLog } from './serial-log.ts';

it('rotates a log past its limit and reads the tail across the two files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nubes-serial-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'serial.log');
  assert.equal(await readSerialTail(log, 100), '', 'no log yet reads as empty');
  // A writer that keeps its descriptor open in append mode, as QEMU does.
  const fd = openSync(log, 'a');
  t.after(() => closeSync(fd));
  writeSync(fd, 'line 1\nline 2\n');
  assert.equal(await rotateSerialLog(log, 100), false, 'under the limit nothing moves');
  writeSync(fd, 'x'.repeat(200) + '\n');
  assert.equal(await rotateSerialLog(log, 100), true);
  assert.equal(statSync(log).size, 0);
  assert.equal(
    statSync(`${log}.1`).size,
    100,
    'only the newest 100 bytes are kept, however much came since the last rotation',
  );
  writeSync(fd, 'after rotation\n');
  assert.equal(
    statSync(log).size,
    'after rotation\n'.length,
    'the writer appends at the new end, not at its old offset',
  );
  assert.equal(await readSerialTail(log, 1000), `${'x'.repeat(99)}\nafter rotation\n`);
  assert.equal(
    await readSerialTail(log, 20),
    'xxxx\nafter rotation\n',
    '15 bytes of the new file and 5 of the old',
  );
  appendFileSync(log, 'more\n');
  assert.match(await readSerialTail(log, 5), /^more\n$/);
});
