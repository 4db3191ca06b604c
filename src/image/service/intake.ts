// What every path that brings data into an image shares: the dependencies of the data use cases,
// the quota-counted streaming into a store (through hashing.ts), the upload/stage permission check,
// and the columns and notifications of an image whose data is stored.
import type { DbHandle } from '../../platform/db/database.ts';
import type { Readable } from 'node:stream';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Logger } from '../../platform/log.ts';
import { BadRequest, OverLimit } from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import { TRANSFER_ENDED } from '../store/transfers.ts';
import type { Image } from '../model.ts';
import type { ImageBackend } from '../backend/driver.ts';
import { writeHashed, type StoredData } from './hashing.ts';
import type { ImageConfig } from './config.ts';
import { imageTarget, type ImageRecords } from './images.ts';
import type { DiskInspector } from './disk-inspector.ts';
import type { ImageNotifications } from './notifications.ts';
import type { Transfer, Transfers } from './transfers.ts';

export interface DataDeps {
  readonly db: DbHandle;
  readonly policy: Policy;
  readonly records: ImageRecords;
  readonly backend: ImageBackend;
  readonly staging: ImageBackend;
  readonly inspector: DiskInspector;
  readonly config: ImageConfig;
  readonly log: Logger;
  readonly notifications: ImageNotifications;
  readonly transfers: Transfers;
  readonly now?: () => number;
}

/** The columns that record stored data on an image (what every path to 'active' sets). */
export function dataFields(
  stored: StoredData,
  virtualSize: number | null,
): images.TransitionFields {
  return {
    size: stored.size,
    virtual_size: virtualSize,
    checksum: stored.md5,
    os_hash_algo: 'sha512',
    os_hash_value: stored.sha512,
    location: stored.key,
    pending_bytes: 0,
    ...TRANSFER_ENDED,
  };
}

export function createIntake(deps: DataDeps) {
  const { db, policy, records, config, notifications } = deps;
  const now = deps.now ?? Date.now;

  /**
   * Bytes `owner` may still write, counting data already stored and in flight, less `reclaimed`
   * (bytes counted now that the write replaces), and never more than the image size cap.
   */
  async function remainingQuota(owner: string | null, reclaimed = 0): Promise<number> {
    if (config.storageQuotaBytes === 0 || owner === null) return config.sizeCapBytes;
    const left = config.storageQuotaBytes - (await images.storageUsed(db, owner)) + reclaimed;
    if (left <= 0)
      throw new OverLimit(
        `Project ${owner} has used its image storage quota of ${config.storageQuotaBytes} bytes; delete images or ask an operator to raise it.`,
        'image_quota_exceeded',
      );
    return Math.min(left, config.sizeCapBytes);
  }

  return {
    requireFormats(img: Image): void {
      if (!img.diskFormat || !img.containerFormat) {
        throw new BadRequest(
          'Properties disk_format, container_format must be set prior to saving data.',
          'image_formats_unset',
        );
      }
    },

    remainingQuota,

    /**
     * Streams `source` into `store`, counting it against the quota while it is in flight. When
     * `transfer` is stopped (the image deleted), the source is cut and the write fails with why.
     */
    async receive(
      img: Image,
      store: ImageBackend,
      source: Readable,
      declared: number | undefined,
      transfer: Transfer,
    ): Promise<StoredData> {
      const limit = await remainingQuota(img.owner);
      if (declared !== undefined && declared > limit) {
        source.resume();
        throw new OverLimit(
          limit < config.sizeCapBytes
            ? `The upload is ${declared} bytes but project ${img.owner} may store only ${limit} more; delete images or ask an operator to raise the image storage quota.`
            : `The upload is ${declared} bytes, more than this cloud's image size cap of ${limit} bytes; upload a smaller image or ask an operator to raise image.size_cap_bytes.`,
          'image_quota_exceeded',
        );
      }
      const stop = () => source.destroy(transfer.signal.reason as Error);
      if (transfer.signal.aborted) stop();
      transfer.signal.addEventListener('abort', stop, { once: true });
      try {
        await images.setPendingBytes(db, img.id, declared ?? 0, now());
        return await writeHashed(store, source, {
          limit,
          expectedBytes: declared,
          onProgress: (bytes) => {
            void images.setPendingBytes(db, img.id, Math.max(bytes, declared ?? 0), now());
          },
        });
      } catch (e) {
        // Cut off because the transfer was stopped: say why, not what the cut stream said.
        throw transfer.signal.aborted ? (transfer.signal.reason as Error) : e;
      } finally {
        transfer.signal.removeEventListener('abort', stop);
      }
    },

    async uploadable(
      ctx: AuthContext,
      id: string,
      action: 'upload_image' | 'stage_image',
    ): Promise<Image> {
      const img = await records.requireVisible(ctx, id);
      policy.enforce(action, ctx.credentials, imageTarget(img));
      return img;
    },

    /** Data stored and the image active: Glance's image.upload, then image.activate. */
    async announceStored(img: Image): Promise<void> {
      await notifications.image('image.upload', img);
      await notifications.image('image.activate', img);
    },
  };
}

export type Intake = ReturnType<typeof createIntake>;
