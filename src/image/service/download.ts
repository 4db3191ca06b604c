// Download use cases: GET /file for users (with HTTP byte ranges and the image.send notification),
// and the trusted reads agents and host image caches use once a build was already allowed.
import type { Readable } from 'node:stream';
import type { AuthContext } from '../../platform/auth/context.ts';
import { Forbidden, NotFound } from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import { imageTarget, viewerOf } from './images.ts';
import { countingSent } from './notifications.ts';
import type { DataDeps } from './intake.ts';

export interface Download {
  readonly stream: Readable;
  readonly size: number;
  readonly checksum: string | null;
  /** Set for a partial response: the bytes sent and the total. */
  readonly range: { readonly start: number; readonly end: number } | null;
}

/** Parses one HTTP byte range ("bytes=0-99", "bytes=100-", "bytes=-50") against `size`. */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
    if (n === 0) return 'unsatisfiable';
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export function createImageDownloads(deps: DataDeps) {
  const { db, policy, records, backend, notifications } = deps;

  return {
    /** `length` bytes of an active image from `offset` (agents read images over the bus in ranges). */
    async readTrusted(
      id: string,
      offset: number,
      length: number,
    ): Promise<{ data: Buffer; eof: boolean }> {
      const img = await images.getImage(db, id);
      if (!img || img.status !== 'active' || img.location === null || img.size === null)
        throw new NotFound(`Image ${id} has no data to read.`, 'image_no_data');
      if (offset >= img.size || length === 0)
        return { data: Buffer.alloc(0), eof: offset >= img.size };
      const end = Math.min(offset + length, img.size) - 1;
      const parts: Buffer[] = [];
      for await (const part of await backend.read(img.location, { start: offset, end }))
        parts.push(part as Buffer);
      return { data: Buffer.concat(parts), eof: end + 1 >= img.size };
    },

    /** An active image's bytes, for a host's image cache (the build was already allowed). */
    async openTrusted(id: string): Promise<Readable> {
      const img = await images.getImage(db, id);
      if (!img || img.status !== 'active' || img.location === null)
        throw new NotFound(`Image ${id} has no data to read.`, 'image_no_data');
      return backend.read(img.location);
    },

    /** GET /v2/images/{id}/file. `null` when the image has no data yet (Glance answers 204). */
    async download(
      ctx: AuthContext,
      id: string,
      rangeHeader: string | undefined,
    ): Promise<Download | null | 'unsatisfiable'> {
      const img = await records.requireVisible(ctx, id);
      policy.enforce('download_image', ctx.credentials, imageTarget(img));
      if (img.status === 'deactivated' && !viewerOf(ctx, policy).isAdmin) {
        throw new Forbidden(
          'The requested image has been deactivated. Image data download is forbidden.',
          'image_deactivated',
        );
      }
      if (!img.location || img.size === null) {
        if (
          img.status === 'queued' ||
          img.status === 'saving' ||
          img.status === 'uploading' ||
          img.status === 'importing'
        )
          return null;
        throw new NotFound(`Image ${id} has no data.`, 'image_data_not_found');
      }
      const range = rangeHeader ? parseRange(rangeHeader, img.size) : null;
      if (range === 'unsatisfiable') return 'unsatisfiable';
      const data = await backend.read(img.location, range ?? undefined);
      const stream = countingSent(data, (sent) => void notifications.sent(img, ctx, sent));
      return { stream, size: img.size, checksum: img.checksum, range };
    },
  };
}
