// The instance state machine's policy: every (vm_state, task_state) pair has an API status, the
// states users see match Nova's on the common paths, a running task blocks another action, and
// completions land where Nova's do. store/transition.test.ts walks every pair through the UPDATE.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  TASK_STATES,
  VM_STATES,
  allows,
  apiStatus,
  instanceTransitions,
  type TaskState,
  type VmState,
} from './states.ts';

const NOVA_STATUSES = new Set([
  'ACTIVE',
  'BUILD',
  'DELETED',
  'ERROR',
  'HARD_REBOOT',
  'MIGRATING',
  'PASSWORD',
  'PAUSED',
  'REBOOT',
  'REBUILD',
  'RESCUE',
  'RESIZE',
  'REVERT_RESIZE',
  'SHELVED',
  'SHELVED_OFFLOADED',
  'SHUTOFF',
  'SOFT_DELETED',
  'SUSPENDED',
  'UNKNOWN',
  'VERIFY_RESIZE',
]);

describe('instance states', () => {
  it('maps every (vm_state, task_state) pair to one of Nova API statuses', () => {
    for (const vm of VM_STATES)
      for (const task of [null, ...TASK_STATES])
        assert.ok(NOVA_STATUSES.has(apiStatus(vm, task)), `${vm}/${task}`);
  });

  it('shows what Nova shows on the common paths', () => {
    const cases: [VmState, TaskState | null, string][] = [
      ['building', 'scheduling', 'BUILD'],
      ['active', null, 'ACTIVE'],
      ['active', 'rebooting', 'REBOOT'],
      ['active', 'rebooting_hard', 'HARD_REBOOT'],
      ['active', 'powering-off', 'ACTIVE'],
      ['stopped', null, 'SHUTOFF'],
      ['active', 'resize_prep', 'RESIZE'],
      ['resized', null, 'VERIFY_RESIZE'],
      ['resized', 'resize_reverting', 'REVERT_RESIZE'],
      ['paused', null, 'PAUSED'],
      ['suspended', null, 'SUSPENDED'],
      ['rescued', null, 'RESCUE'],
      ['error', null, 'ERROR'],
      ['active', 'rebuilding', 'REBUILD'],
      ['shelved_offloaded', null, 'SHELVED_OFFLOADED'],
      ['active', 'deleting', 'ACTIVE'],
    ];
    for (const [vm, task, status] of cases)
      assert.equal(apiStatus(vm, task), status, `${vm}/${task}`);
  });

  it('refuses a second action while one runs, and a completion that is not its own', () => {
    assert.ok(allows('stop', 'active', null));
    assert.ok(!allows('reboot', 'active', 'powering-off'), 'a stop in progress blocks a reboot');
    assert.ok(!allows('stopped', 'active', 'rebooting'), "a reboot's end is not a stop's");
    assert.ok(
      allows('rebootHard', 'active', 'rebooting'),
      'a hard reboot may take over a soft one, as in Nova',
    );
    assert.ok(allows('delete', 'error', 'spawning'), 'delete works from anywhere but deleting');
    assert.ok(!allows('delete', 'active', 'deleting'));
    assert.ok(!allows('confirmResize', 'active', null), 'only a resized instance confirms');
  });

  it('completions land where the table says', () => {
    assert.equal(instanceTransitions.spawned.to.vm_state, 'active');
    assert.equal(instanceTransitions.buildFailed.to.vm_state, 'error');
    assert.equal(instanceTransitions.resized.to.vm_state, 'resized');
    assert.equal(instanceTransitions.resizeReverted.to.vm_state, 'active');
    assert.equal(instanceTransitions.shelveOffloaded.to.vm_state, 'shelved_offloaded');
  });
});
