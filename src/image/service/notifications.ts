// What the image service announces on the bus (topic 'notifications', where Glance's oslo.messaging
// notifier sends), named and shaped as Glance's: image.* for records and data, image.member.* for
// sharing, task.* for imports. The catalogue is the contract subscribers parse with; emitting never
// fails a use case. Payloads never carry the data's location in the store.
import { pipeline, Transform, type Readable } from 'node:stream';
import type { Bus, JsonValue } from '../../platform/bus/bus.ts';
import {
  event,
  notifier,
  type Catalogue,
  type PayloadOf,
} from '../../platform/bus/notifications.ts';
import { fields, type Fields } from '../../platform/bus/wire.ts';
import type { Logger } from '../../platform/log.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Image, ImageMember, ImageTask } from '../model.ts';

/** The topic Glance's notifications travel on (oslo.messaging's default notification topic). */
export const IMAGE_NOTIFICATION_TOPIC = 'notifications';

/** An image as Glance's notifications describe it (snake_case, times in ISO 8601). */
export interface ImagePayload {
  readonly id: string;
  readonly name: string | null;
  readonly status: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly min_disk: number;
  readonly min_ram: number;
  readonly protected: boolean;
  readonly checksum: string | null;
  readonly owner: string | null;
  readonly disk_format: string | null;
  readonly container_format: string | null;
  readonly size: number | null;
  readonly virtual_size: number | null;
  readonly is_public: boolean;
  readonly visibility: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly tags: readonly string[];
  readonly deleted: boolean;
  readonly deleted_at: string | null;
}

export interface MemberPayload {
  readonly image_id: string;
  readonly member_id: string;
  readonly status: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly deleted: boolean;
  readonly deleted_at: string | null;
}

/** A download's end: how many bytes went to whom (fewer than the size when it was cut short). */
export interface SendPayload {
  readonly bytes_sent: number;
  readonly image_id: string;
  readonly owner_id: string | null;
  readonly receiver_tenant_id: string | null;
  readonly receiver_user_id: string;
}

/** An import task; its input and message stay out, as they may name what the caller sent. */
export interface TaskPayload {
  readonly id: string;
  readonly type: string;
  readonly status: string;
  readonly result: null;
  readonly owner: string;
  readonly message: null;
  readonly expires_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly deleted: boolean;
  readonly deleted_at: string | null;
}

const countOrNull = (f: Fields, k: string): number | null =>
  f.raw[k] === null || f.raw[k] === undefined ? null : f.count(k);

function stringMap(v: JsonValue, what: string): Record<string, string> {
  const f = fields(v, what);
  return Object.fromEntries(Object.keys(f.raw).map((k) => [k, f.string(k)]));
}

export function parseImagePayload(v: JsonValue): ImagePayload {
  const f = fields(v, 'image payload');
  return {
    id: f.string('id'),
    name: f.stringOrNull('name'),
    status: f.string('status'),
    created_at: f.string('created_at'),
    updated_at: f.string('updated_at'),
    min_disk: f.count('min_disk'),
    min_ram: f.count('min_ram'),
    protected: f.boolean('protected'),
    checksum: f.stringOrNull('checksum'),
    owner: f.stringOrNull('owner'),
    disk_format: f.stringOrNull('disk_format'),
    container_format: f.stringOrNull('container_format'),
    size: countOrNull(f, 'size'),
    virtual_size: countOrNull(f, 'virtual_size'),
    is_public: f.boolean('is_public'),
    visibility: f.string('visibility'),
    properties: stringMap(f.value('properties'), 'image payload properties'),
    tags: f.stringList('tags'),
    deleted: f.boolean('deleted'),
    deleted_at: f.stringOrNull('deleted_at'),
  };
}

export function parseMemberPayload(v: JsonValue): MemberPayload {
  const f = fields(v, 'image member payload');
  return {
    image_id: f.string('image_id'),
    member_id: f.string('member_id'),
    status: f.string('status'),
    created_at: f.string('created_at'),
    updated_at: f.string('updated_at'),
    deleted: f.boolean('deleted'),
    deleted_at: f.stringOrNull('deleted_at'),
  };
}

export function parseSendPayload(v: JsonValue): SendPayload {
  const f = fields(v, 'image send payload');
  return {
    bytes_sent: f.count('bytes_sent'),
    image_id: f.string('image_id'),
    owner_id: f.stringOrNull('owner_id'),
    receiver_tenant_id: f.stringOrNull('receiver_tenant_id'),
    receiver_user_id: f.string('receiver_user_id'),
  };
}

export function parseTaskPayload(v: JsonValue): TaskPayload {
  const f = fields(v, 'task payload');
  return {
    id: f.string('id'),
    type: f.string('type'),
    status: f.string('status'),
    result: null,
    owner: f.string('owner'),
    message: null,
    expires_at: f.stringOrNull('expires_at'),
    created_at: f.string('created_at'),
    updated_at: f.string('updated_at'),
    deleted: f.boolean('deleted'),
    deleted_at: f.stringOrNull('deleted_at'),
  };
}

/** Every event the image service sends, with its payload. */
export const IMAGE_NOTIFICATIONS = {
  'image.create': event(parseImagePayload),
  'image.update': event(parseImagePayload),
  'image.delete': event(parseImagePayload),
  'image.prepare': event(parseImagePayload),
  'image.upload': event(parseImagePayload),
  'image.activate': event(parseImagePayload),
  'image.send': event(parseSendPayload),
  'image.member.create': event(parseMemberPayload),
  'image.member.update': event(parseMemberPayload),
  'image.member.delete': event(parseMemberPayload),
  'task.create': event(parseTaskPayload),
  'task.processing': event(parseTaskPayload),
  'task.success': event(parseTaskPayload),
  'task.failure': event(parseTaskPayload),
} as const satisfies Catalogue;

export type ImageCatalogue = typeof IMAGE_NOTIFICATIONS;
type ImageEvent = 'image.create' | 'image.update' | 'image.prepare' | 'image.upload';
type TaskEvent = 'task.create' | 'task.processing' | 'task.success' | 'task.failure';
type MemberEvent = 'image.member.create' | 'image.member.update';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function imagePayload(img: Image): ImagePayload {
  return {
    id: img.id,
    name: img.name,
    status: img.status,
    created_at: iso(img.createdAt),
    updated_at: iso(img.updatedAt),
    min_disk: img.minDisk,
    min_ram: img.minRam,
    protected: img.protected,
    checksum: img.checksum,
    owner: img.owner,
    disk_format: img.diskFormat,
    container_format: img.containerFormat,
    size: img.size,
    virtual_size: img.virtualSize,
    is_public: img.visibility === 'public',
    visibility: img.visibility,
    properties: { ...img.properties },
    tags: [...img.tags],
    deleted: false,
    deleted_at: null,
  };
}

function memberPayload(m: ImageMember): MemberPayload {
  return {
    image_id: m.imageId,
    member_id: m.memberId,
    status: m.status,
    created_at: iso(m.createdAt),
    updated_at: iso(m.updatedAt),
    deleted: false,
    deleted_at: null,
  };
}

function taskPayload(t: ImageTask): TaskPayload {
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    result: null,
    owner: t.owner,
    message: null,
    expires_at: isoOrNull(t.expiresAt),
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
    deleted: false,
    deleted_at: null,
  };
}

/**
 * Announces image events once a bus is attached (`nubes up` and `serve api` attach theirs; without
 * one nothing is sent). A failure to send is logged, never thrown: the use case has already happened.
 */
export function createImageNotifications(deps: {
  readonly log: Logger;
  readonly now: () => number;
}) {
  let target: { bus: Bus; publisher: string } | undefined;

  async function emit<E extends keyof ImageCatalogue & string>(
    e: E,
    payload: PayloadOf<ImageCatalogue[E]>,
  ): Promise<void> {
    if (!target) return;
    await notifier(target.bus, IMAGE_NOTIFICATION_TOPIC, IMAGE_NOTIFICATIONS, { now: deps.now })
      .emit(e, payload, target.publisher)
      .catch((err: unknown) => deps.log.warn({ err, event: e }, 'notify failed'));
  }

  return {
    /** Sends from now on over `bus` as `image.<host>` (Glance's publisher id). */
    attach(bus: Bus, host: string): void {
      target = { bus, publisher: `image.${host}` };
    },
    image: (e: ImageEvent | 'image.activate', img: Image) => emit(e, imagePayload(img)),
    deleted: (img: Image) =>
      emit('image.delete', { ...imagePayload(img), deleted: true, deleted_at: iso(deps.now()) }),
    member: (e: MemberEvent, m: ImageMember) => emit(e, memberPayload(m)),
    memberDeleted: (m: ImageMember) =>
      emit('image.member.delete', {
        ...memberPayload(m),
        deleted: true,
        deleted_at: iso(deps.now()),
      }),
    task: (e: TaskEvent, t: ImageTask) => emit(e, taskPayload(t)),
    /** A download ended after `sent` bytes (Glance's image.send). */
    sent: (img: Image, ctx: AuthContext, sent: number) =>
      emit('image.send', {
        bytes_sent: sent,
        image_id: img.id,
        owner_id: img.owner,
        receiver_tenant_id: ctx.scope.kind === 'project' ? ctx.scope.project.id : null,
        receiver_user_id: ctx.user.id,
      }),
  };
}

export type ImageNotifications = ReturnType<typeof createImageNotifications>;

/**
 * `source` as it is read, calling `done` once with the bytes that went through when it ends, is
 * destroyed or fails: a download cut short is announced too, with fewer bytes than the image has.
 */
export function countingSent(source: Readable, done: (sent: number) => void): Readable {
  let sent = 0;
  let reported = false;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      cb(null, chunk);
    },
  });
  counter.once('close', () => {
    if (reported) return;
    reported = true;
    done(sent);
  });
  pipeline(source, counter, () => undefined);
  return counter;
}
