// Glance's response bodies, as pure functions of domain objects: images (extra properties at the
// top level), members and tasks. Links are relative to the endpoint, as Glance writes them.
import type { Image, ImageMember, ImageTask } from '../model.ts';

/** Glance's timestamp format: seconds precision, UTC, 'Z'. */
export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function imageView(img: Image): Record<string, unknown> {
  return {
    // Extra properties first, so a core field can never be shadowed by one.
    ...img.properties,
    id: img.id,
    name: img.name,
    status: img.status,
    visibility: img.visibility,
    protected: img.protected,
    os_hidden: img.osHidden,
    owner: img.owner,
    disk_format: img.diskFormat,
    container_format: img.containerFormat,
    min_disk: img.minDisk,
    min_ram: img.minRam,
    size: img.size,
    virtual_size: img.virtualSize,
    checksum: img.checksum,
    os_hash_algo: img.osHashAlgo,
    os_hash_value: img.osHashValue,
    tags: [...img.tags],
    created_at: isoTime(img.createdAt),
    updated_at: isoTime(img.updatedAt),
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
  };
}

export function memberView(m: ImageMember): Record<string, unknown> {
  return {
    image_id: m.imageId,
    member_id: m.memberId,
    status: m.status,
    created_at: isoTime(m.createdAt),
    updated_at: isoTime(m.updatedAt),
    schema: '/v2/schemas/member',
  };
}

export function taskView(t: ImageTask): Record<string, unknown> {
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    owner: t.owner,
    input: t.input,
    result: t.result,
    message: t.message,
    image_id: t.imageId,
    request_id: null,
    user_id: null,
    created_at: isoTime(t.createdAt),
    updated_at: isoTime(t.updatedAt),
    expires_at: t.expiresAt === null ? null : isoTime(t.expiresAt),
    self: `/v2/tasks/${t.id}`,
    schema: '/v2/schemas/task',
  };
}
