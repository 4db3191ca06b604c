// The doctor's guard (time limit, no throw escapes), error lines and version parsing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { check, guard, oneLine, parseVersion } from './check.ts';
import { exec } from '../exec.ts';

describe('guard', () => {
  it('passes the checks of a probe that finishes in time', async () => {
    const got = await guard(['a'], 1000, async () => [check('a', 'ok', 'fine')]);
    assert.deepEqual(got, [{ name: 'a', status: 'ok', detail: 'fine', essential: false }]);
  });

  it('turns a throw into a no for each name, with the error and the essential flag', async () => {
    const got = await guard(
      ['x', 'y'],
      1000,
      async () => {
        throw new Error('boom\nsecond line');
      },
      { essential: true },
    );
    assert.deepEqual(
      got.map((c) => [c.name, c.status, c.detail, c.essential]),
      [
        ['x', 'no', 'the probe failed: boom', true],
        ['y', 'no', 'the probe failed: boom', true],
      ],
    );
  });

  it('turns a probe that hangs into a no once its time limit passes', async () => {
    const t = performance.now();
    const got = await guard(['slow'], 50, () => new Promise(() => {}));
    assert.ok(performance.now() - t < 1000);
    assert.equal(got[0]!.status, 'no');
    assert.match(got[0]!.detail, /did not finish within 0.05 s/);
  });
});

describe('oneLine', () => {
  it("gives a failed command's own stderr", async () => {
    const e = await exec(['sh', '-c', 'echo "Error: Unknown device type." >&2; exit 2']).catch(
      (x: unknown) => x,
    );
    assert.equal(oneLine(e), 'Error: Unknown device type.');
  });

  it('gives the first line of any other error', () => {
    assert.equal(oneLine(new Error('one\ntwo')), 'one');
    assert.equal(oneLine('plain'), 'plain');
  });
});

describe('parseVersion', () => {
  it('reads the banners the doctor meets', () => {
    assert.equal(
      parseVersion(
        'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022',
      ),
      '7.2.22',
    );
    assert.equal(parseVersion('qemu-img version 8.0.4 (v8.0.4)'), '8.0.4');
    assert.equal(parseVersion('nftables v1.0.6 (Lester Gooch #5)'), '1.0.6');
    assert.equal(
      parseVersion('Dnsmasq version 2.89  Copyright (c) 2000-2022 Simon Kelley'),
      '2.89',
    );
    assert.equal(parseVersion('xorriso 1.5.4 : RockRidge filesystem manipulator'), '1.5.4');
    assert.equal(parseVersion('no digits here'), null);
  });
});
