// What an agent says about its console proxy: a base URL only when the driver has VNC, noVNC is
// installed and something listens; otherwise the reason the console URL call repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consoleReport } from './console.ts';
import { FakeDriver } from '../compute/agent/virt/fake/fake-driver.ts';

test('an agent reports its console base URL, or why it has none', () => {
  const vnc = new FakeDriver({ vncSocket: () => '/nowhere/vnc.sock' });
  assert.deepEqual(consoleReport(vnc, '/usr/share/novnc', 'http://h:6080'), {
    url: 'http://h:6080/console',
    note: null,
  });
  assert.match(
    consoleReport(new FakeDriver(), '/usr/share/novnc', 'http://h:6080').note!,
    /virt driver gives guests no VNC/,
  );
  assert.match(consoleReport(vnc, null, 'http://h:6080').note!, /apt install novnc/);
  assert.match(consoleReport(vnc, '/usr/share/novnc', null).note!, /console_listen/);
  assert.equal(consoleReport(vnc, null, null).url, null);
});
