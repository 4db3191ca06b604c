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
import type { Image } from '../model.ts';
import type { ImageBackend } from '../backend/driver.ts';
import { writeHashed, type StoredData } from './hashing.ts';
import type { ImageConfig } from './config.ts';
import { imageTarget, type ImageRecords } from './images.ts';
import type { DiskInspector } from './disk-inspector.ts';
import type { ImageNotifications } from './notifications.ts';

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
  };
}

export function createIntake(deps: DataDeps) {
  const { db, policy, records, config, notifications } = deps;
  const now = deps.now ?? Date.now;

  /** Bytes `owner` may still write, counting data already stored and in flight. */
  async function remainingQuota(owner: string | null): Promise<number> {
    if (config.storageQuotaBytes === 0 || owner === null) return Number.MAX_SAFE_INTEGER;
    const left = config.storageQuotaBytes - (await images.storageUsed(db, owner));
    if (left <= 0)
      throw new OverLimit(
        `Project ${owner} has used its image storage quota of ${config.storageQuotaBytes} bytes; delete images or ask an operator to raise it.`,
        'image_quota_exceeded',
      );
    return left;
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

    /** Streams `source` into `store`, counting it against the quota while it is in flight. */
    async receive(
      img: Image,
      store: ImageBackend,
      source: Readable,
      declared: number | undefined,
    ): Promise<StoredData> {
      const limit = await remainingQuota(img.owner);
      if (declared !== undefined && declared > limit) {
        source.resume();
        throw new OverLimit(
          `The upload is ${declared} bytes but project ${img.owner} may store only ${limit} more; delete images or ask an operator to raise the image storage quota.`,
          'image_quota_exceeded',
        );
      }
      await images.setPendingBytes(db, img.id, declared ?? 0, now());
      return writeHashed(store, source, {
        limit,
        expectedBytes: declared,
        onProgress: (bytes) => {
          void images.setPendingBytes(db, img.id, Math.max(bytes, declared ?? 0), now());
        },
      });
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
