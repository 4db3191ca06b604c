// SQL for image transfers (uploads, stages, imports in flight): the owner's beat, the sweep's
// choice of stalled transfers and their recovery, a stage's end, and a project's import slots.
// The status still changes only through images.ts's transition (states.ts).
import { isUniqueViolation } from '../../platform/db/database.ts';
import { compareAndSwap } from '../../platform/db/transitions.ts';
import { InvalidState } from '../../platform/errors.ts';
import { imageTransitions, refusalMessage, type ImageTransition } from '../states.ts';
import type { Image } from '../model.ts';
import type { ImageExecutor } from './tables.ts';
import { getImage, transition, type TransitionFields } from './images.ts';

/** A transfer whose process may have stopped: what the sweep needs to recover it. */
export interface StalledTransfer {
  readonly id: string;
  readonly status: string;
  readonly owner: string | null;
  readonly stageKey: string | null;
  readonly transferOwner: string | null;
  readonly transferHeartbeat: number | null;
}

/**
 * Images whose bytes are moving (an upload, a stage still receiving, an import) that have shown
 * no progress and whose owner has not beaten since `before`.
 */
export async function listStalled(db: ImageExecutor, before: number): Promise<StalledTransfer[]> {
  const rows = await db
    .selectFrom('images')
    .select([
      'id',
      'status',
      'owner',
      'stage_key',
      'transfer_owner',
      'transfer_heartbeat',
      'updated_at',
    ])
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['saving', 'importing']),
        // Staged data waiting for its import is not a transfer; a stage still receiving is.
        eb.and([eb('status', '=', 'uploading'), eb('stage_key', 'is', null)]),
      ]),
    )
    .where('updated_at', '<', before)
    .where((eb) =>
      eb.or([eb('transfer_heartbeat', 'is', null), eb('transfer_heartbeat', '<', before)]),
    )
    .limit(100)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    owner: r.owner,
    stageKey: r.stage_key,
    transferOwner: r.transfer_owner,
    transferHeartbeat: r.transfer_heartbeat === null ? null : Number(r.transfer_heartbeat),
  }));
}

/**
 * Moves a stalled transfer back by `action`, only if it is still the transfer `s` describes (same
 * owner, no beat since): of several replicas sweeping at once, one recovers it. Returns the image,
 * or undefined if another replica (or its owner) got there first.
 */
export async function recoverStalled(
  db: ImageExecutor,
  s: StalledTransfer,
  action: 'failUpload' | 'failStage' | 'failImport',
  now: number,
): Promise<Image | undefined> {
  const t: ImageTransition = imageTransitions[action];
  const changed = await compareAndSwap(db, 'images', 'id', s.id, t, {
    set: { ...TRANSFER_ENDED, pending_bytes: 0, stage_key: null, updated_at: now },
    scope: { transfer_owner: s.transferOwner, transfer_heartbeat: s.transferHeartbeat },
    refuse: (cur) => new InvalidState(refusalMessage(action, cur.status), 'image_invalid_state'),
  }).catch(() => false);
  return changed ? getImage(db, s.id) : undefined;
}

/** The columns that say no transfer runs any more (set by every transition that ends one). */
export const TRANSFER_ENDED = {
  transfer_owner: null,
  transfer_heartbeat: null,
  import_slot: null,
} as const satisfies TransitionFields;

/**
 * The heartbeat of one process: every transfer it runs (by owner token) is marked alive. Returns
 * the tokens whose transfer is no longer there (the image deleted, or recovered by a sweep): the
 * process stops that work.
 */
export async function beat(
  db: ImageExecutor,
  owners: readonly string[],
  now: number,
): Promise<string[]> {
  if (owners.length === 0) return [];
  await db
    .updateTable('images')
    .set({ transfer_heartbeat: now })
    .where('transfer_owner', 'in', [...owners])
    .execute();
  const alive = await db
    .selectFrom('images')
    .select('transfer_owner')
    .where('transfer_owner', 'in', [...owners])
    .execute();
  const present = new Set(alive.map((r) => r.transfer_owner));
  return owners.filter((o) => !present.has(o));
}

/**
 * Starts an import in one of the owner's `slots` import slots (the unique index on owner and slot
 * makes two imports of one project take different slots, whichever replica runs them). Returns
 * the image, undefined if it is gone, or 'full' when every slot is taken.
 */
export async function startImportInSlot(
  db: ImageExecutor,
  id: string,
  slots: number,
  fields: TransitionFields,
  now: number,
): Promise<Image | undefined | 'full'> {
  for (let slot = 0; slot < slots; slot++) {
    try {
      return await transition(db, id, 'startImport', { ...fields, import_slot: slot }, now);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }
  return 'full';
}

/**
 * Records staged data (and its bytes, for the quota) on an image still 'uploading' by the stage
 * `transferOwner` runs, which ends there; false if it is not (deleted, or recovered, say).
 */
export async function setStageKey(
  db: ImageExecutor,
  id: string,
  key: string,
  bytes: number,
  transferOwner: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('images')
    .set({ stage_key: key, pending_bytes: bytes, ...TRANSFER_ENDED, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'uploading')
    .where('transfer_owner', '=', transferOwner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
