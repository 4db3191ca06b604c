// The transfers of image bytes this process runs (uploads, stages, imports) and the sweep that
// every api process runs for the ones whose process stopped. Each transfer records an owner token
// on its image; the process beats for its own, so a transfer is stalled only when no bytes moved
// and no live process beat for it; one replica recovers it and gives the quota back.
import { hostname } from 'node:os';
import type { DbHandle } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/log.ts';
import { NubesError } from '../../platform/errors.ts';
import * as tasks from '../store/tasks.ts';
import * as inFlight from '../store/transfers.ts';
import type { ImageBackend } from '../backend/driver.ts';
import type { ImageConfig } from './config.ts';

/** One transfer this process runs. */
export interface Transfer {
  /** The token recorded on the image (transfer_owner): this process and this transfer. */
  readonly owner: string;
  /** Aborted when the transfer must stop: its image was deleted, or a sweep recovered it. */
  readonly signal: AbortSignal;
  /** Stops tracking it (the transfer ended, whichever way). */
  end(): void;
}

export interface TransferDeps {
  readonly db: DbHandle;
  readonly backend: ImageBackend;
  readonly staging: ImageBackend;
  readonly config: ImageConfig;
  readonly log: Logger;
  readonly now?: () => number;
}

const RECOVERY = {
  saving: 'failUpload',
  uploading: 'failStage',
  importing: 'failImport',
} as const;

export function createTransfers(deps: TransferDeps) {
  const { db, backend, staging, config, log } = deps;
  const now = deps.now ?? Date.now;
  // Names this process in the owner tokens, for an operator reading the images table.
  const processTag = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  const live = new Map<string, { imageId: string; controller: AbortController }>();

  function cancel(owner: string, reason: Error): void {
    const t = live.get(owner);
    if (!t) return;
    live.delete(owner);
    t.controller.abort(reason);
  }

  /** Marks this process's transfers alive; stops those whose image is gone or was recovered. */
  async function beat(): Promise<void> {
    const lost = await inFlight.beat(db, [...live.keys()], now());
    for (const owner of lost) {
      const imageId = live.get(owner)?.imageId;
      log.warn({ image: imageId, owner }, 'image transfer no longer current; stopping it');
      cancel(owner, gone(imageId ?? ''));
    }
    await backend.keepAlive();
    await staging.keepAlive();
  }

  return {
    begin(imageId: string): Transfer {
      const owner = `${processTag}:${crypto.randomUUID().slice(0, 8)}`;
      const controller = new AbortController();
      live.set(owner, { imageId, controller });
      return { owner, signal: controller.signal, end: () => live.delete(owner) };
    },

    /** Stops what this process is moving into image `id` at once (the image was deleted here). */
    cancelImage(id: string): void {
      for (const [owner, t] of live) if (t.imageId === id) cancel(owner, gone(id));
    },

    /** Stops every transfer of this process (it is shutting down); a sweep recovers their images. */
    cancelAll(reason: Error): void {
      for (const owner of [...live.keys()]) cancel(owner, reason);
    },

    /**
     * Beats for this process's transfers, then recovers transfers with no progress and no beat for
     * `transferStalledMs`: their image goes back to 'queued' (as Glance leaves a failed upload),
     * its pending bytes leave the quota, its staged data and partial files are deleted, and an
     * import's task says why. Runs at start and every `transferSweepMs` in every api process.
     */
    async sweep(): Promise<number> {
      await beat();
      const stalledMs = config.transferStalledMs;
      let recovered = 0;
      for (const s of await inFlight.listStalled(db, now() - stalledMs)) {
        const action = RECOVERY[s.status as keyof typeof RECOVERY];
        if (!action) continue;
        const moved = await inFlight.recoverStalled(db, s, action, now());
        if (!moved) continue;
        recovered++;
        if (s.stageKey) await staging.delete(s.stageKey);
        const taskId = moved.properties['os_glance_import_task'];
        if (action === 'failImport' && taskId) {
          await tasks.updateTask(db, taskId, {
            status: 'failure',
            message:
              'The import stopped with the api process that ran it; stage the data and import again.',
            expiresAt: now() + 48 * 3600_000,
            now: now(),
          });
        }
        log.warn(
          { image: s.id, status: s.status, owner: s.transferOwner },
          'stalled image transfer returned to queued',
        );
      }
      // Their partial files: nothing has written or kept them alive since their process stopped.
      const removed =
        (await backend.removeAbandoned(stalledMs)) + (await staging.removeAbandoned(stalledMs));
      if (removed > 0) log.info({ removed }, 'removed partial image files of stopped transfers');
      return recovered;
    },
  };
}

function gone(id: string): NubesError {
  return new NubesError(
    'image_gone',
    410,
    `Image ${id} was deleted (or its transfer recovered) while its data was moving.`,
  );
}

export type Transfers = ReturnType<typeof createTransfers>;
