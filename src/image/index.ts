// The image service as the rest of the program sees it: one factory wiring its use cases, and
// the typed entry points other services call (compute reads an image and its data for a boot).
import type { DbHandle } from '../platform/db/database.ts';
import type { Policy } from '../platform/policy/policy.ts';
import type { Logger } from '../platform/log.ts';
import type { Bus } from '../platform/bus/bus.ts';
import { imagePolicies } from './policies.ts';
import { createImageRecords } from './service/images.ts';
import { createImageData } from './service/data.ts';
import { createImageMembers } from './service/members.ts';
import { createSystemImages } from './service/system-images.ts';
import type { ImageBackend } from './backend/driver.ts';
import type { DiskInspector } from './service/disk-inspector.ts';
import type { ImageConfig } from './service/config.ts';
import { createImageNotifications } from './service/notifications.ts';
import { createTransfers } from './service/transfers.ts';

export type { ImageConfig } from './service/config.ts';
export { DEFAULT_IMAGE_CONFIG } from './service/config.ts';
export type { Image } from './model.ts';
export type { SystemImage } from './service/system-images.ts';
export {
  IMAGE_NOTIFICATIONS,
  IMAGE_NOTIFICATION_TOPIC,
  type ImageCatalogue,
  type ImagePayload,
  type MemberPayload,
  type SendPayload,
  type TaskPayload,
} from './service/notifications.ts';

export interface ImageDeps {
  readonly db: DbHandle;
  readonly policy: Policy;
  readonly backend: ImageBackend;
  readonly staging: ImageBackend;
  readonly inspector: DiskInspector;
  readonly config: ImageConfig;
  readonly log: Logger;
}

export function createImageService(deps: ImageDeps) {
  deps.policy.register(imagePolicies);
  const notifications = createImageNotifications({ log: deps.log, now: Date.now });
  const transfers = createTransfers(deps);
  const records = createImageRecords({ ...deps, notifications, transfers });
  const data = createImageData({ ...deps, records, notifications, transfers });
  const members = createImageMembers({ ...deps, records, notifications });
  const system = createSystemImages({ ...deps, transfers });
  return {
    records,
    data,
    members,
    system,
    /** Uploads and imports in flight: `sweep()` (every api process, now and then) recovers stalled ones. */
    transfers,
    config: deps.config,
    /** Announces image.*, image.member.* and task.* on `bus` as image.<host> from now on. */
    notifyOn: (bus: Bus, host: string): void => notifications.attach(bus, host),
  };
}

export type ImageService = ReturnType<typeof createImageService>;
