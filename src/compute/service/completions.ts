// What completing a piece of host work changes besides the instance's state: the transition that
// ends each op, the flavor a resize leaves, the host a shelve takes away, and the claims to adjust
// once that state change has won. Pure decisions over the instance and the agent's result.
import type { DbHandle } from '../../platform/db/database.ts';
import type * as instances from '../store/instances.ts';
import { releaseAllocations, setAllocation } from '../store/claims.ts';
import { flavorDiskGb } from '../scheduler/host-selection.ts';
import type { HostOp, HostWorkResult, MigrationOp } from '../agent/protocol.ts';
import { POWER_STATE_CODES, type InstanceAction } from '../states.ts';
import type { Instance } from '../model.ts';

/** The transition that completes each piece of host work (a migration's steps are chained in migrations.ts). */
export const COMPLETES: Readonly<Record<Exclude<HostOp, MigrationOp>, InstanceAction>> = {
  build: 'spawned',
  destroy: 'deleted',
  stop: 'stopped',
  start: 'started',
  reboot: 'rebooted',
  reboot_hard: 'rebooted',
  pause: 'paused',
  unpause: 'unpaused',
  suspend: 'suspended',
  resume: 'resumed',
  rescue: 'rescued',
  unrescue: 'unrescued',
  rebuild: 'rebuilt',
  resize: 'resized',
  confirm_resize: 'resizeConfirmed',
  revert_resize: 'resizeReverted',
  snapshot: 'snapshotDone',
  shelve: 'shelveOffloaded',
  shelve_offload: 'shelveOffloaded',
  unshelve: 'unshelved',
};

const flavorFields = (f: Instance['flavor']): instances.InstanceFields => ({
  flavor: JSON.stringify(f),
  vcpus: f.vcpus,
  memory_mb: f.memoryMb,
});
const allocationOf = (i: Instance, host: string, f: Instance['flavor']) => ({
  instanceId: i.id,
  host,
  vcpus: f.vcpus,
  memoryMb: f.memoryMb,
  diskGb: flavorDiskGb(f),
});

export interface Completion {
  readonly fields: instances.InstanceFields;
  /** The claims to adjust, in the transaction whose state change won (so that nobody sees the
   * new state with the old claims). */
  readonly claims: (tx: DbHandle) => Promise<void>;
  /** What follows outside the database once the change has won (a shelved image to delete). */
  readonly after?: () => Promise<void>;
}

/** What completing `r` changes besides the state, the claims that change with it, and what follows. */
export function completion(
  removeShelvedImage: (id: string) => Promise<void>,
  i: Instance,
  r: HostWorkResult,
): Completion {
  const m = i.migration;
  const none = async () => {};
  // The shelved disk's image has done its job (unshelved) or is half made (a shelve that failed).
  const dropShelvedImage = async () => {
    if (i.shelvedImageId) await removeShelvedImage(i.shelvedImageId);
  };
  if (r.ok) {
    switch (r.op) {
      case 'resize':
        return { fields: m ? flavorFields(m.newFlavor) : {}, claims: none };
      case 'confirm_resize':
        return {
          fields: { migration: null },
          claims: async (tx) => {
            if (m) await setAllocation(tx, allocationOf(i, m.destHost, m.newFlavor));
          },
        };
      case 'revert_resize':
        return {
          fields: { ...(m ? flavorFields(m.oldFlavor) : {}), migration: null },
          claims: async (tx) => {
            if (m) await setAllocation(tx, allocationOf(i, m.sourceHost, m.oldFlavor));
          },
        };
      case 'shelve':
      case 'shelve_offload':
        return {
          fields: { host: null, power_state: POWER_STATE_CODES.nostate },
          claims: (tx) => releaseAllocations(tx, i.id),
        };
      // Booted from its shelved image (Nova deletes it too).
      case 'unshelve':
        return { fields: { shelved_image_id: null }, claims: none, after: dropShelvedImage };
      default:
        return { fields: {}, claims: none };
    }
  }
  switch (r.op) {
    // The instance keeps its old flavor; the claim for the new one goes.
    case 'resize':
      return {
        fields: { migration: null },
        claims: async (tx) => {
          if (m) await setAllocation(tx, allocationOf(i, m.sourceHost, m.oldFlavor));
        },
      };
    case 'unshelve':
      return { fields: { host: null }, claims: (tx) => releaseAllocations(tx, i.id) };
    // Still on its host, as it was.
    case 'shelve':
      return { fields: { shelved_image_id: null }, claims: none, after: dropShelvedImage };
    default:
      return { fields: {}, claims: none };
  }
}
