// What nubes up does once started leaves nothing visible behind: no `gc` for other code.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { settleAfterStart } from './after-start.ts';

it('collects garbage without exposing gc to any code after it, compile cache on or off', () => {
  settleAfterStart();
  settleAfterStart();
  assert.equal(runInNewContext('typeof gc'), 'undefined');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});
