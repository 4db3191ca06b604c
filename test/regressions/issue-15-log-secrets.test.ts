// Issue 15, item 7 (console half): a console URL's token reached the access log of `nubes up`
// (noVNC's page URL carries it in `path=websockify%3Ftoken%3D...`). A real `nubes up` now writes
// no token, password or signature from a URL, and no credential header, to nubes.log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { adminToken, removeDir, startNubes, type NubesProcess } from '../support/nubes-process.ts';

const PASSWORD = 'issue15-admin-password';

describe('issue 15: secrets in URLs stay out of the log', () => {
  let nubes: NubesProcess;
  before(async () => {
    nubes = await startNubes({
      env: { NUBES_VIRT_DRIVER: 'fake', NUBES_ADMIN_PASSWORD: PASSWORD },
    });
  });
  after(async () => {
    if (nubes) {
      await nubes.stop();
      removeDir(nubes.dataDir);
    }
  });

  it('no console token, password, signature or token header is written to nubes.log', async () => {
    const secrets = {
      page: 'PageToken_0123456789abcdefghijklmnopqrstuvwx',
      socket: 'SocketToken_0123456789abcdefghijklmnopqrstu',
      password: 'Query-Password-9b1f',
      signature: 'cafebabe0badf00d',
    };
    // The noVNC page, as a browser opens the URL the console API gives.
    const page = await fetch(
      `${nubes.url}/console/vnc_lite.html?path=${encodeURIComponent(`console/websockify?token=${secrets.page}`)}`,
    );
    await page.arrayBuffer();
    // The websocket with its token (refused: the fake driver's guests have no screen).
    await new Promise<void>((done) => {
      const ws = new WebSocket(
        `${nubes.url.replace('http', 'ws')}/console/websockify?token=${secrets.socket}`,
      );
      ws.once('unexpected-response', () => (ws.terminate(), done()));
      ws.once('error', () => done());
      ws.once('open', () => (ws.close(), done()));
    });
    // Secrets in other query strings, and a token in the headers.
    await (await fetch(`${nubes.url}/identity/v3/users?password=${secrets.password}`)).text();
    await (await fetch(`${nubes.url}/image/v2/images?X-Amz-Signature=${secrets.signature}`)).text();
    const token = await adminToken(nubes.url, PASSWORD);
    const r = await fetch(`${nubes.url}/identity/v3/auth/tokens`, {
      headers: { 'x-auth-token': token, 'x-subject-token': token },
    });
    assert.equal(r.status, 200);

    // The log is written asynchronously: wait for the last request's line.
    const log = () => readFileSync(join(nubes.dataDir, 'nubes.log'), 'utf8');
    for (
      let n = 0;
      n < 100 && !log().includes('"url":"/identity/v3/auth/tokens","status":200');
      n++
    )
      await new Promise((ok) => setTimeout(ok, 50));
    const text = log();
    assert.match(text, /"url":"\/identity\/v3\/auth\/tokens","status":200/);
    assert.match(
      text,
      /"url":"\/console\/vnc_lite.html\?path=console%2Fwebsockify%3Ftoken%3D\*\*\*"/,
    );
    for (const [what, secret] of Object.entries({ ...secrets, token, PASSWORD }))
      assert.ok(!text.includes(secret), `the ${what} is not in nubes.log`);
  });
});
