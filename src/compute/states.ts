// The instance state machine, after Nova's vm_states/task_states: the one table that says from
// which (vm_state, task_state) each action may start and what it leaves, and the total map from
// those two to the API `status` (Nova's _STATE_MAP). The instance store applies transitions as one
// compare-and-swap UPDATE (Nova's expected_task_state), so a racing action gets a 409, not a mix.

export const VM_STATES = [
  'building',
  'active',
  'paused',
  'suspended',
  'stopped',
  'rescued',
  'resized',
  'soft-delete',
  'deleted',
  'error',
  'shelved',
  'shelved_offloaded',
] as const;
export type VmState = (typeof VM_STATES)[number];

export const TASK_STATES = [
  'scheduling',
  'networking',
  'spawning',
  'image_snapshot',
  'image_uploading',
  'resize_prep',
  'resize_migrating',
  'resize_finish',
  'resize_reverting',
  'resize_confirming',
  'rebooting',
  'rebooting_hard',
  'pausing',
  'unpausing',
  'suspending',
  'resuming',
  'powering-off',
  'powering-on',
  'rescuing',
  'unrescuing',
  'rebuilding',
  'migrating',
  'deleting',
  'shelving',
  'shelving_offloading',
  'unshelving',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const POWER_STATE_CODES = {
  nostate: 0,
  running: 1,
  paused: 3,
  shutdown: 4,
  crashed: 6,
  suspended: 7,
} as const;

export interface InstanceTransition {
  /** The vm_states the action may start from, and the task_states (null: no task running). */
  readonly from: { readonly vm: readonly VmState[]; readonly task: readonly (TaskState | null)[] };
  /** The task_state while the action runs (null when the action completes a task). */
  readonly task: TaskState | null;
  /** The vm_state it sets, when it sets one. */
  readonly vm?: VmState;
}

const IDLE = [null] as const;
const RUNNING_LIKE: readonly VmState[] = [
  'active',
  'stopped',
  'paused',
  'suspended',
  'rescued',
  'resized',
  'error',
  'shelved',
  'shelved_offloaded',
];

/** User actions (they start a task) and completions (the agent reports the task done or failed). */
export const instanceTransitions = {
  // --- build
  schedule: { from: { vm: ['building'], task: ['scheduling'] }, task: 'networking' },
  spawn: { from: { vm: ['building'], task: ['networking'] }, task: 'spawning' },
  spawned: { from: { vm: ['building'], task: ['spawning'] }, task: null, vm: 'active' },
  buildFailed: {
    from: { vm: ['building'], task: ['scheduling', 'networking', 'spawning'] },
    task: null,
    vm: 'error',
  },
  // A build that failed on its host goes back to the scheduler (another host, bounded attempts).
  reschedule: { from: { vm: ['building'], task: ['networking', 'spawning'] }, task: 'scheduling' },
  // --- power
  stop: { from: { vm: ['active', 'error'], task: IDLE }, task: 'powering-off' },
  stopped: { from: { vm: ['active', 'error'], task: ['powering-off'] }, task: null, vm: 'stopped' },
  start: { from: { vm: ['stopped'], task: IDLE }, task: 'powering-on' },
  started: { from: { vm: ['stopped'], task: ['powering-on'] }, task: null, vm: 'active' },
  reboot: { from: { vm: ['active'], task: IDLE }, task: 'rebooting' },
  rebootHard: {
    from: { vm: ['active', 'stopped', 'paused', 'suspended', 'error'], task: [null, 'rebooting'] },
    task: 'rebooting_hard',
  },
  rebooted: {
    from: {
      vm: ['active', 'stopped', 'paused', 'suspended', 'error'],
      task: ['rebooting', 'rebooting_hard'],
    },
    task: null,
    vm: 'active',
  },
  pause: { from: { vm: ['active'], task: IDLE }, task: 'pausing' },
  paused: { from: { vm: ['active'], task: ['pausing'] }, task: null, vm: 'paused' },
  unpause: { from: { vm: ['paused'], task: IDLE }, task: 'unpausing' },
  unpaused: { from: { vm: ['paused'], task: ['unpausing'] }, task: null, vm: 'active' },
  suspend: { from: { vm: ['active'], task: IDLE }, task: 'suspending' },
  suspended: { from: { vm: ['active'], task: ['suspending'] }, task: null, vm: 'suspended' },
  resume: { from: { vm: ['suspended'], task: IDLE }, task: 'resuming' },
  resumed: { from: { vm: ['suspended'], task: ['resuming'] }, task: null, vm: 'active' },
  // --- rescue, rebuild, snapshot
  rescue: { from: { vm: ['active', 'stopped', 'error'], task: IDLE }, task: 'rescuing' },
  rescued: {
    from: { vm: ['active', 'stopped', 'error'], task: ['rescuing'] },
    task: null,
    vm: 'rescued',
  },
  unrescue: { from: { vm: ['rescued'], task: IDLE }, task: 'unrescuing' },
  unrescued: { from: { vm: ['rescued'], task: ['unrescuing'] }, task: null, vm: 'active' },
  rebuild: { from: { vm: ['active', 'stopped', 'error'], task: IDLE }, task: 'rebuilding' },
  rebuilt: {
    from: { vm: ['active', 'stopped', 'error'], task: ['rebuilding'] },
    task: null,
    vm: 'active',
  },
  snapshot: {
    from: { vm: ['active', 'stopped', 'paused', 'suspended'], task: IDLE },
    task: 'image_snapshot',
  },
  snapshotUploading: {
    from: { vm: ['active', 'stopped', 'paused', 'suspended'], task: ['image_snapshot'] },
    task: 'image_uploading',
  },
  snapshotDone: {
    from: {
      vm: ['active', 'stopped', 'paused', 'suspended'],
      task: ['image_snapshot', 'image_uploading'],
    },
    task: null,
  },
  // --- resize
  resize: { from: { vm: ['active', 'stopped'], task: IDLE }, task: 'resize_prep' },
  resizeMigrating: {
    from: { vm: ['active', 'stopped'], task: ['resize_prep'] },
    task: 'resize_migrating',
  },
  resizeFinish: {
    from: { vm: ['active', 'stopped'], task: ['resize_migrating'] },
    task: 'resize_finish',
  },
  resized: {
    from: { vm: ['active', 'stopped'], task: ['resize_migrating', 'resize_finish'] },
    task: null,
    vm: 'resized',
  },
  confirmResize: { from: { vm: ['resized'], task: IDLE }, task: 'resize_confirming' },
  resizeConfirmed: {
    from: { vm: ['resized'], task: ['resize_confirming'] },
    task: null,
    vm: 'active',
  },
  revertResize: { from: { vm: ['resized'], task: IDLE }, task: 'resize_reverting' },
  resizeReverted: {
    from: { vm: ['resized'], task: ['resize_reverting'] },
    task: null,
    vm: 'active',
  },
  // A cold migration of a stopped instance ends stopped, confirmed or reverted (Nova's confirm looks at the power state).
  resizeConfirmedStopped: {
    from: { vm: ['resized'], task: ['resize_confirming'] },
    task: null,
    vm: 'stopped',
  },
  resizeRevertedStopped: {
    from: { vm: ['resized'], task: ['resize_reverting'] },
    task: null,
    vm: 'stopped',
  },
  // --- shelve
  shelve: {
    from: { vm: ['active', 'stopped', 'paused', 'suspended'], task: IDLE },
    task: 'shelving',
  },
  shelved: {
    from: { vm: ['active', 'stopped', 'paused', 'suspended'], task: ['shelving'] },
    task: null,
    vm: 'shelved',
  },
  shelveOffload: { from: { vm: ['shelved'], task: IDLE }, task: 'shelving_offloading' },
  shelveOffloaded: {
    from: {
      vm: ['shelved', 'active', 'stopped', 'paused', 'suspended'],
      task: ['shelving', 'shelving_offloading'],
    },
    task: null,
    vm: 'shelved_offloaded',
  },
  unshelve: { from: { vm: ['shelved', 'shelved_offloaded'], task: IDLE }, task: 'unshelving' },
  unshelved: {
    from: { vm: ['shelved', 'shelved_offloaded'], task: ['unshelving'] },
    task: null,
    vm: 'active',
  },
  // --- migrate and delete
  migrate: { from: { vm: ['active', 'paused'], task: IDLE }, task: 'migrating' },
  migrated: { from: { vm: ['active', 'paused'], task: ['migrating'] }, task: null },
  delete: {
    from: {
      vm: [...VM_STATES.filter((v) => v !== 'deleted')],
      task: [null, ...TASK_STATES.filter((t) => t !== 'deleting')],
    },
    task: 'deleting',
  },
  deleted: {
    from: { vm: [...VM_STATES.filter((v) => v !== 'deleted')], task: ['deleting'] },
    task: null,
    vm: 'deleted',
  },
  // --- a task failed on the host: the instance keeps its vm_state (or goes to error), the task clears
  taskFailed: {
    from: { vm: RUNNING_LIKE, task: [...TASK_STATES.filter((t) => t !== 'deleting')] },
    task: null,
  },
  taskErrored: { from: { vm: RUNNING_LIKE, task: [...TASK_STATES] }, task: null, vm: 'error' },
  // An admin's os-resetState: any live state, any task, to active or error.
  resetToActive: {
    from: { vm: [...VM_STATES.filter((v) => v !== 'deleted')], task: [null, ...TASK_STATES] },
    task: null,
    vm: 'active',
  },
  resetToError: {
    from: { vm: [...VM_STATES.filter((v) => v !== 'deleted')], task: [null, ...TASK_STATES] },
    task: null,
    vm: 'error',
  },
  // The power sync found the guest off without anyone asking (it shut itself down, crashed, or its
  // process died): the cloud records it stopped, as Nova's _sync_power_states does.
  powerLost: { from: { vm: ['active', 'paused'], task: IDLE }, task: null, vm: 'stopped' },
  // A restarted host no longer has the instance (a fake host, a wiped disk): it is in error.
  vanished: {
    from: { vm: RUNNING_LIKE, task: [null, ...TASK_STATES.filter((t) => t !== 'deleting')] },
    task: null,
    vm: 'error',
  },
} as const satisfies Record<string, InstanceTransition>;

export type InstanceAction = keyof typeof instanceTransitions;

/** Whether `action` may start from this state. */
export function allows(action: InstanceAction, vm: VmState, task: TaskState | null): boolean {
  const t: InstanceTransition = instanceTransitions[action];
  return t.from.vm.includes(vm) && t.from.task.includes(task);
}

/** Nova's API status for a (vm_state, task_state) pair: a total function (status-map.test.ts). */
export function apiStatus(vm: VmState, task: TaskState | null): string {
  const resizing =
    task === 'resize_prep' || task === 'resize_migrating' || task === 'resize_finish';
  switch (vm) {
    case 'building':
      return 'BUILD';
    case 'active':
      if (task === 'rebooting') return 'REBOOT';
      if (task === 'rebooting_hard') return 'HARD_REBOOT';
      if (task === 'rebuilding') return 'REBUILD';
      if (task === 'migrating') return 'MIGRATING';
      if (resizing) return 'RESIZE';
      return 'ACTIVE';
    case 'stopped':
      if (resizing) return 'RESIZE';
      if (task === 'rebuilding') return 'REBUILD';
      if (task === 'rebooting_hard') return 'HARD_REBOOT';
      return 'SHUTOFF';
    case 'resized':
      return task === 'resize_reverting' ? 'REVERT_RESIZE' : 'VERIFY_RESIZE';
    case 'paused':
      return task === 'migrating' ? 'MIGRATING' : 'PAUSED';
    case 'suspended':
      return 'SUSPENDED';
    case 'rescued':
      return 'RESCUE';
    case 'error':
      return task === 'rebuilding' ? 'REBUILD' : 'ERROR';
    case 'deleted':
      return 'DELETED';
    case 'soft-delete':
      return 'SOFT_DELETED';
    case 'shelved':
      return 'SHELVED';
    case 'shelved_offloaded':
      return 'SHELVED_OFFLOADED';
  }
}
