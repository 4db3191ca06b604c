// redactUrl and the logger's redaction: console tokens (plain and inside noVNC's `path`),
// passwords, signatures and credential headers never reach a log line; other parameters do.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LOG_REDACT_PATHS, redactUrl } from './log-redact.ts';

describe('redactUrl', () => {
  it("hides a console token, also inside noVNC's path parameter", () => {
    assert.equal(
      redactUrl('/console/websockify?token=abcDEF_123-x'),
      '/console/websockify?token=***',
    );
    const page = redactUrl(
      '/console/vnc_lite.html?path=console%2Fwebsockify%3Ftoken%3DabcDEF_123-x&scale=1',
    );
    assert.ok(!page.includes('abcDEF'), page);
    assert.equal(page, '/console/vnc_lite.html?path=console%2Fwebsockify%3Ftoken%3D***&scale=1');
  });

  it('hides passwords, signatures and credentials, whatever their case', () => {
    for (const [url, secret] of [
      ['/x?password=hunter2', 'hunter2'],
      ['/x?a=1&Password=hunter2', 'hunter2'],
      ['/v1/AUTH_p/c/o?temp_url_sig=deadbeef&temp_url_expires=1', 'deadbeef'],
      ['/b/k?X-Amz-Signature=cafe&X-Amz-Credential=AKIA%2F2026&X-Amz-Security-Token=tt', 'cafe'],
      ['/b/k?Signature=cafe&AWSAccessKeyId=AKIA', 'cafe'],
      ['/x?url=postgres%3A%2F%2Fnubes%3Ahunter2%40db%2Fnubes', 'hunter2'],
      ['/x?next=%2Fy%3Fsecret%3Dhunter2', 'hunter2'],
    ] as const) {
      const out = redactUrl(url);
      assert.ok(!out.includes(secret), `${url} → ${out}`);
      assert.ok(out.includes('***'), out);
    }
    assert.ok(!redactUrl('/b/k?X-Amz-Credential=AKIA%2F2026').includes('AKIA'));
  });

  it('leaves everything else as it was', () => {
    for (const url of [
      '/compute/v2.1/servers/detail?sort_key=name&sort_dir=asc&limit=5&marker=abc',
      '/compute/v2.1/servers?key_name=mine&name=%5Eweb',
      '/identity/v3/auth/tokens',
      '/image/v2/images?visibility=public&tag=a%3Db',
      '/healthcheck',
      '/x?flag&y=',
    ])
      assert.equal(redactUrl(url), url);
  });
});

describe('LOG_REDACT_PATHS', () => {
  it('hides credential headers and secret fields in logged objects', () => {
    let out = '';
    const log = pino(
      { redact: { paths: [...LOG_REDACT_PATHS], censor: '***' } },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          out += chunk.toString();
          done();
        },
      }),
    );
    log.info({ headers: { 'x-auth-token': 'gAAAAtok1', accept: 'application/json' } }, 'a');
    log.info({ req: { headers: { 'x-subject-token': 'gAAAAtok2', authorization: 'Basic x' } } });
    log.info({ password: 'hunter2', user: { password: 'hunter3' } }, 'b');
    for (const secret of ['gAAAAtok1', 'gAAAAtok2', 'Basic x', 'hunter2', 'hunter3'])
      assert.ok(!out.includes(secret), `${secret} in ${out}`);
    assert.ok(out.includes('application/json'));
  });
});
