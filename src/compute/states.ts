// The instance state machine, after Nova's vm_states/task_states: the one table that says from
// which (vm_state, task_state) each action may start and what it leaves, and the total map from
// those two to the API `status` (Nova's _STATE_MAP). The table has platform/db/transitions.ts's
// shape; the store applies it as one compare-and-swap UPDATE (Nova's expected_task_state), so a
// racing action gets a 409, not a mix. store/transition.test.ts walks every pair through it.
import {
  allows as allowsFrom,
  type Transition,
  type TransitionTable,
} from '../platform/db/transitions.ts';

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
  'image_snapshot_pending',
  'image_pending_upload',
  'image_uploading',
  'resize_prep',
  'resize_migrating',
  'resize_migrated',
  'resize_finish',
  'resize_reverting',
  'resize_confirming',
  'rebooting',
  'reboot_pending',
  'reboot_started',
  'rebooting_hard',
  'reboot_pending_hard',
  'reboot_started_hard',
  'pausing',
  'unpausing',
  'suspending',
  'resuming',
  'powering-off',
  'powering-on',
  'rescuing',
  'unrescuing',
  'rebuilding',
  'rebuild_spawning',
  'migrating',
  'deleting',
  'shelving',
  'shelving_image_pending_upload',
  'shelving_image_uploading',
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

/** An instance's state columns: (vm_state, task_state), the task null while none runs. */
export type InstanceState = { readonly vm_state: VmState; readonly task_state: TaskState | null };

/** From which (vm_state, task_state) an action may start; every action sets task_state (null when
 * it completes a task) and may set vm_state. */
export type InstanceTransition = Transition<InstanceState> & {
  readonly to: { readonly task_state: TaskState | null };
};

const IDLE = [null] as const;
/** A reboot's tasks: the api's, then the host's as it takes the work (pending) and starts it. */
const SOFT_REBOOT: readonly TaskState[] = ['rebooting', 'reboot_pending', 'reboot_started'];
const HARD_REBOOT: readonly TaskState[] = [
  'rebooting_hard',
  'reboot_pending_hard',
  'reboot_started_hard',
];
const SNAPSHOTTING: readonly TaskState[] = [
  'image_snapshot',
  'image_snapshot_pending',
  'image_pending_upload',
  'image_uploading',
];
const SHELVING: readonly TaskState[] = [
  'shelving',
  'shelving_image_pending_upload',
  'shelving_image_uploading',
];
const REBUILDING: readonly TaskState[] = ['rebuilding', 'rebuild_spawning'];
const RESIZING: readonly TaskState[] = [
  'resize_prep',
  'resize_migrating',
  'resize_migrated',
  'resize_finish',
];
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
  schedule: {
    from: { vm_state: ['building'], task_state: ['scheduling'] },
    to: { task_state: 'networking' },
  },
  spawn: {
    from: { vm_state: ['building'], task_state: ['networking'] },
    to: { task_state: 'spawning' },
  },
  spawned: {
    from: { vm_state: ['building'], task_state: ['spawning'] },
    to: { task_state: null, vm_state: 'active' },
  },
  buildFailed: {
    from: { vm_state: ['building'], task_state: ['scheduling', 'networking', 'spawning'] },
    to: { task_state: null, vm_state: 'error' },
  },
  // A build that failed on its host goes back to the scheduler (another host, bounded attempts).
  reschedule: {
    from: { vm_state: ['building'], task_state: ['networking', 'spawning'] },
    to: { task_state: 'scheduling' },
  },
  // --- power
  stop: {
    from: { vm_state: ['active', 'error'], task_state: IDLE },
    to: { task_state: 'powering-off' },
  },
  stopped: {
    from: { vm_state: ['active', 'error'], task_state: ['powering-off'] },
    to: { task_state: null, vm_state: 'stopped' },
  },
  start: { from: { vm_state: ['stopped'], task_state: IDLE }, to: { task_state: 'powering-on' } },
  started: {
    from: { vm_state: ['stopped'], task_state: ['powering-on'] },
    to: { task_state: null, vm_state: 'active' },
  },
  reboot: { from: { vm_state: ['active'], task_state: IDLE }, to: { task_state: 'rebooting' } },
  // The host took the soft reboot (it may wait behind other work), then started it (Nova's
  // reboot_pending and reboot_started); a host's steps may arrive late, so each starts from the
  // tasks before it, and the end from any of them.
  rebootPending: {
    from: { vm_state: ['active'], task_state: ['rebooting'] },
    to: { task_state: 'reboot_pending' },
  },
  rebootStarted: {
    from: { vm_state: ['active'], task_state: ['rebooting', 'reboot_pending'] },
    to: { task_state: 'reboot_started' },
  },
  rebootHard: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended', 'error'],
      task_state: [null, ...SOFT_REBOOT],
    },
    to: { task_state: 'rebooting_hard' },
  },
  rebootPendingHard: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended', 'error'],
      task_state: ['rebooting_hard'],
    },
    to: { task_state: 'reboot_pending_hard' },
  },
  rebootStartedHard: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended', 'error'],
      task_state: ['rebooting_hard', 'reboot_pending_hard'],
    },
    to: { task_state: 'reboot_started_hard' },
  },
  rebooted: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended', 'error'],
      task_state: [...SOFT_REBOOT, ...HARD_REBOOT],
    },
    to: { task_state: null, vm_state: 'active' },
  },
  pause: { from: { vm_state: ['active'], task_state: IDLE }, to: { task_state: 'pausing' } },
  paused: {
    from: { vm_state: ['active'], task_state: ['pausing'] },
    to: { task_state: null, vm_state: 'paused' },
  },
  unpause: { from: { vm_state: ['paused'], task_state: IDLE }, to: { task_state: 'unpausing' } },
  unpaused: {
    from: { vm_state: ['paused'], task_state: ['unpausing'] },
    to: { task_state: null, vm_state: 'active' },
  },
  suspend: { from: { vm_state: ['active'], task_state: IDLE }, to: { task_state: 'suspending' } },
  suspended: {
    from: { vm_state: ['active'], task_state: ['suspending'] },
    to: { task_state: null, vm_state: 'suspended' },
  },
  resume: { from: { vm_state: ['suspended'], task_state: IDLE }, to: { task_state: 'resuming' } },
  resumed: {
    from: { vm_state: ['suspended'], task_state: ['resuming'] },
    to: { task_state: null, vm_state: 'active' },
  },
  // --- rescue, rebuild, snapshot
  rescue: {
    from: { vm_state: ['active', 'stopped', 'error'], task_state: IDLE },
    to: { task_state: 'rescuing' },
  },
  rescued: {
    from: { vm_state: ['active', 'stopped', 'error'], task_state: ['rescuing'] },
    to: { task_state: null, vm_state: 'rescued' },
  },
  unrescue: { from: { vm_state: ['rescued'], task_state: IDLE }, to: { task_state: 'unrescuing' } },
  unrescued: {
    from: { vm_state: ['rescued'], task_state: ['unrescuing'] },
    to: { task_state: null, vm_state: 'active' },
  },
  rebuild: {
    from: { vm_state: ['active', 'stopped', 'error'], task_state: IDLE },
    to: { task_state: 'rebuilding' },
  },
  // The old guest is gone from the host, the new one is being made (Nova's rebuild_spawning).
  rebuildSpawning: {
    from: { vm_state: ['active', 'stopped', 'error'], task_state: ['rebuilding'] },
    to: { task_state: 'rebuild_spawning' },
  },
  rebuilt: {
    from: { vm_state: ['active', 'stopped', 'error'], task_state: REBUILDING },
    to: { task_state: null, vm_state: 'active' },
  },
  snapshot: {
    from: { vm_state: ['active', 'stopped', 'paused', 'suspended'], task_state: IDLE },
    to: { task_state: 'image_snapshot' },
  },
  // The host's steps: it took the work, the copy of the disk is made, its bytes go to the image.
  snapshotPending: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended'],
      task_state: ['image_snapshot'],
    },
    to: { task_state: 'image_snapshot_pending' },
  },
  snapshotPendingUpload: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended'],
      task_state: ['image_snapshot', 'image_snapshot_pending'],
    },
    to: { task_state: 'image_pending_upload' },
  },
  snapshotUploading: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended'],
      task_state: ['image_snapshot', 'image_snapshot_pending', 'image_pending_upload'],
    },
    to: { task_state: 'image_uploading' },
  },
  snapshotDone: {
    from: { vm_state: ['active', 'stopped', 'paused', 'suspended'], task_state: SNAPSHOTTING },
    to: { task_state: null },
  },
  // --- resize
  resize: {
    from: { vm_state: ['active', 'stopped'], task_state: IDLE },
    to: { task_state: 'resize_prep' },
  },
  resizeMigrating: {
    from: { vm_state: ['active', 'stopped'], task_state: ['resize_prep'] },
    to: { task_state: 'resize_migrating' },
  },
  // A cold migration's disks reached the destination (Nova's resize_migrated), which finishes it.
  resizeMigrated: {
    from: { vm_state: ['active', 'stopped'], task_state: ['resize_migrating'] },
    to: { task_state: 'resize_migrated' },
  },
  resizeFinish: {
    from: { vm_state: ['active', 'stopped'], task_state: ['resize_migrating', 'resize_migrated'] },
    to: { task_state: 'resize_finish' },
  },
  resized: {
    from: { vm_state: ['active', 'stopped'], task_state: RESIZING.slice(1) },
    to: { task_state: null, vm_state: 'resized' },
  },
  confirmResize: {
    from: { vm_state: ['resized'], task_state: IDLE },
    to: { task_state: 'resize_confirming' },
  },
  resizeConfirmed: {
    from: { vm_state: ['resized'], task_state: ['resize_confirming'] },
    to: { task_state: null, vm_state: 'active' },
  },
  revertResize: {
    from: { vm_state: ['resized'], task_state: IDLE },
    to: { task_state: 'resize_reverting' },
  },
  resizeReverted: {
    from: { vm_state: ['resized'], task_state: ['resize_reverting'] },
    to: { task_state: null, vm_state: 'active' },
  },
  // A cold migration of a stopped instance ends stopped, confirmed or reverted (Nova's confirm looks at the power state).
  resizeConfirmedStopped: {
    from: { vm_state: ['resized'], task_state: ['resize_confirming'] },
    to: { task_state: null, vm_state: 'stopped' },
  },
  resizeRevertedStopped: {
    from: { vm_state: ['resized'], task_state: ['resize_reverting'] },
    to: { task_state: null, vm_state: 'stopped' },
  },
  // --- shelve
  shelve: {
    from: { vm_state: ['active', 'stopped', 'paused', 'suspended'], task_state: IDLE },
    to: { task_state: 'shelving' },
  },
  // The host's steps: the guest is off and its disk copied, then the copy goes to the image.
  shelvingImagePendingUpload: {
    from: { vm_state: ['active', 'stopped', 'paused', 'suspended'], task_state: ['shelving'] },
    to: { task_state: 'shelving_image_pending_upload' },
  },
  shelvingImageUploading: {
    from: {
      vm_state: ['active', 'stopped', 'paused', 'suspended'],
      task_state: ['shelving', 'shelving_image_pending_upload'],
    },
    to: { task_state: 'shelving_image_uploading' },
  },
  shelved: {
    from: { vm_state: ['active', 'stopped', 'paused', 'suspended'], task_state: SHELVING },
    to: { task_state: null, vm_state: 'shelved' },
  },
  shelveOffload: {
    from: { vm_state: ['shelved'], task_state: IDLE },
    to: { task_state: 'shelving_offloading' },
  },
  shelveOffloaded: {
    from: {
      vm_state: ['shelved', 'active', 'stopped', 'paused', 'suspended'],
      task_state: [...SHELVING, 'shelving_offloading'],
    },
    to: { task_state: null, vm_state: 'shelved_offloaded' },
  },
  unshelve: {
    from: { vm_state: ['shelved', 'shelved_offloaded'], task_state: IDLE },
    to: { task_state: 'unshelving' },
  },
  unshelved: {
    from: { vm_state: ['shelved', 'shelved_offloaded'], task_state: ['unshelving'] },
    to: { task_state: null, vm_state: 'active' },
  },
  // --- migrate and delete
  migrate: {
    from: { vm_state: ['active', 'paused'], task_state: IDLE },
    to: { task_state: 'migrating' },
  },
  migrated: {
    from: { vm_state: ['active', 'paused'], task_state: ['migrating'] },
    to: { task_state: null },
  },
  delete: {
    from: {
      vm_state: [...VM_STATES.filter((v) => v !== 'deleted')],
      task_state: [null, ...TASK_STATES.filter((t) => t !== 'deleting')],
    },
    to: { task_state: 'deleting' },
  },
  deleted: {
    from: { vm_state: [...VM_STATES.filter((v) => v !== 'deleted')], task_state: ['deleting'] },
    to: { task_state: null, vm_state: 'deleted' },
  },
  // --- a task failed on the host: the instance keeps its vm_state (or goes to error), the task clears
  taskFailed: {
    from: { vm_state: RUNNING_LIKE, task_state: [...TASK_STATES.filter((t) => t !== 'deleting')] },
    to: { task_state: null },
  },
  taskErrored: {
    from: { vm_state: RUNNING_LIKE, task_state: [...TASK_STATES] },
    to: { task_state: null, vm_state: 'error' },
  },
  // An admin's os-resetState: any live state, any task, to active or error.
  resetToActive: {
    from: {
      vm_state: [...VM_STATES.filter((v) => v !== 'deleted')],
      task_state: [null, ...TASK_STATES],
    },
    to: { task_state: null, vm_state: 'active' },
  },
  resetToError: {
    from: {
      vm_state: [...VM_STATES.filter((v) => v !== 'deleted')],
      task_state: [null, ...TASK_STATES],
    },
    to: { task_state: null, vm_state: 'error' },
  },
  // The power sync found the guest off without anyone asking (it shut itself down, crashed, or its
  // process died): the cloud records it stopped, as Nova's _sync_power_states does.
  powerLost: {
    from: { vm_state: ['active', 'paused'], task_state: IDLE },
    to: { task_state: null, vm_state: 'stopped' },
  },
  // A restarted host no longer has the instance (a fake host, a wiped disk): it is in error.
  vanished: {
    from: {
      vm_state: RUNNING_LIKE,
      task_state: [null, ...TASK_STATES.filter((t) => t !== 'deleting')],
    },
    to: { task_state: null, vm_state: 'error' },
  },
} as const satisfies TransitionTable<InstanceState, string, InstanceTransition>;

export type InstanceAction = keyof typeof instanceTransitions;

/** Whether `action` may start from this state. */
export function allows(action: InstanceAction, vm: VmState, task: TaskState | null): boolean {
  return allowsFrom(instanceTransitions[action], { vm_state: vm, task_state: task });
}

/** What to tell a user whose `action` found instance `id` in another state. */
export function refusalMessage(action: InstanceAction, id: string, current: InstanceState): string {
  return `Cannot '${action}' instance ${id} while it is in vm_state ${current.vm_state}${current.task_state ? ` and task_state ${current.task_state}` : ''}.`;
}

/** Nova's API status for a (vm_state, task_state) pair: a total function (states.test.ts walks it). */
export function apiStatus(vm: VmState, task: TaskState | null): string {
  const resizing = task !== null && RESIZING.includes(task);
  const rebuilding = task !== null && REBUILDING.includes(task);
  const hardReboot = task !== null && HARD_REBOOT.includes(task);
  switch (vm) {
    case 'building':
      return 'BUILD';
    case 'active':
      if (task !== null && SOFT_REBOOT.includes(task)) return 'REBOOT';
      if (hardReboot) return 'HARD_REBOOT';
      if (rebuilding) return 'REBUILD';
      if (task === 'migrating') return 'MIGRATING';
      if (resizing) return 'RESIZE';
      return 'ACTIVE';
    case 'stopped':
      if (resizing) return 'RESIZE';
      if (rebuilding) return 'REBUILD';
      if (hardReboot) return 'HARD_REBOOT';
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
      return rebuilding ? 'REBUILD' : 'ERROR';
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
