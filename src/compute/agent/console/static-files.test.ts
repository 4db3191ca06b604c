// The console's static files: request paths cannot leave the directory, and what is inside is
// served with its type.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeStaticPath, serveStatic } from './static-files.ts';

describe('console static files', () => {
  it('keeps request paths inside the directory', () => {
    const root = '/srv/novnc';
    assert.equal(safeStaticPath(root, 'vnc_lite.html'), '/srv/novnc/vnc_lite.html');
    assert.equal(safeStaticPath(root, 'core/rfb.js'), '/srv/novnc/core/rfb.js');
    assert.equal(safeStaticPath(root, ''), '/srv/novnc/vnc_lite.html');
    assert.equal(safeStaticPath(root, 'core/my%20file.js'), '/srv/novnc/core/my file.js');
    for (const bad of [
      '../etc/passwd',
      'core/../../etc/passwd',
      '%2e%2e/etc/passwd',
      '..%2fetc%2fpasswd',
      '%2fetc%2fpasswd',
      '/etc/passwd',
      'core//rfb.js',
      './vnc.html',
      'core/..',
      '..\\x',
      '%5c..%5cx',
      'a%00b',
      '%zz',
      'core/',
    ]) {
      assert.equal(safeStaticPath(root, bad), null, bad);
    }
  });

  it('serves a file with its type, 404 for a missing or unsafe one, 405 for a POST', async () => {
    const root = mkdtempSync(join(tmpdir(), 'novnc-'));
    mkdirSync(join(root, 'core'));
    writeFileSync(join(root, 'core', 'rfb.js'), 'export default 1;\n');
    writeFileSync(join(root, 'vnc_lite.html'), '<html></html>');
    const secret = join(root, '..', `${root.split('/').at(-1)}-secret`);
    writeFileSync(secret, 'no');
    const server = createServer((req, res) =>
      serveStatic(root, (req.url ?? '').replace(/^\/console\//, '').replace(/\?.*$/, ''), req, res),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/console/`;
    try {
      const js = await fetch(`${base}core/rfb.js`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type')!, /^text\/javascript/);
      assert.equal(await js.text(), 'export default 1;\n');
      const index = await fetch(base);
      assert.equal(index.status, 200);
      assert.match(index.headers.get('content-type')!, /^text\/html/);
      assert.equal((await fetch(`${base}nothing.js`)).status, 404);
      assert.equal((await fetch(`${base}core`)).status, 404);
      assert.equal((await fetch(`${base}..%2f${root.split('/').at(-1)}-secret`)).status, 404);
      assert.equal((await fetch(`${base}vnc_lite.html`, { method: 'POST' })).status, 405);
    } finally {
      server.close();
    }
  });
});
