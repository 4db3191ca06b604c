// Use cases for image data: upload (PUT /file), download (GET /file, with ranges), staging and the
// interoperable import (glance-direct, with conversion). Data is streamed into the store through the
// hashing stage (hashing.ts), then inspected before the image becomes active; refused data leaves
// nothing behind.
import type { DbHandle } from '../../platform/db/database.ts';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Logger } from '../../platform/log.ts';
import {
  BadRequest,
  Conflict,
  Forbidden,
  NotFound,
  NubesError,
  OverLimit,
} from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import * as tasks from '../store/tasks.ts';
import type { Image, ImageTask } from '../model.ts';
import type { ImageBackend } from '../backend/driver.ts';
import { adoptFile, writeHashed, type StoredData } from './hashing.ts';
import type { ImageConfig } from './config.ts';
import { imageTarget, viewerOf, type ImageRecords } from './images.ts';
import type { DiskInspector } from './disk-inspector.ts';
import { countingSent, type ImageNotifications } from './notifications.ts';

export const IMPORT_METHODS = ['glance-direct'] as const;

export interface Download {
  readonly stream: Readable;
  readonly size: number;
  readonly checksum: string | null;
  /** Set for a partial response: the bytes sent and the total. */
  readonly range: { readonly start: number; readonly end: number } | null;
}

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

export function createImageData(deps: DataDeps) {
  const { db, policy, records, backend, staging, inspector, config, log, notifications } = deps;
  const now = deps.now ?? Date.now;
  const running = new Set<Promise<void>>();

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

  function requireFormats(img: Image): void {
    if (!img.diskFormat || !img.containerFormat) {
      throw new BadRequest(
        'Properties disk_format, container_format must be set prior to saving data.',
        'image_formats_unset',
      );
    }
  }

  /** Streams `source` into `store`, counting it against the quota while it is in flight. */
  async function receive(
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
      onProgress: (bytes) => {
        void images.setPendingBytes(db, img.id, Math.max(bytes, declared ?? 0), now());
      },
    });
  }

  async function uploadable(
    ctx: AuthContext,
    id: string,
    action: 'upload_image' | 'stage_image',
  ): Promise<Image> {
    const img = await records.requireVisible(ctx, id);
    policy.enforce(action, ctx.credentials, imageTarget(img));
    return img;
  }

  async function startTask(img: Image, ctx: AuthContext, method: string): Promise<ImageTask> {
    const task = await tasks.insertTask(db, {
      id: crypto.randomUUID(),
      type: 'api_image_import',
      status: 'processing',
      owner: img.owner ?? viewerOf(ctx, policy).projectId ?? '',
      imageId: img.id,
      input: { image_id: img.id, import_req: { method: { name: method } } },
      createdAt: now(),
    });
    await images.updateImage(db, img.id, {
      setProperties: { os_glance_import_task: task.id },
      now: now(),
    });
    await notifications.task('task.create', task);
    await notifications.task('task.processing', task);
    return task;
  }

  /** glance-direct: inspect the staged data, convert it if configured, move it into the store. */
  async function runImport(img: Image, task: ImageTask): Promise<void> {
    // Each report is also the import's heartbeat (see recoverStalled); the staged bytes stay counted.
    const report = async (message: string) => {
      await tasks.updateTask(db, task.id, { message, now: now() });
      await images.touch(db, img.id, now());
    };
    const stageKey = img.stageKey!;
    let stored: StoredData | undefined;
    await notifications.image('image.prepare', img);
    try {
      const path = await staging.localPath(stageKey);
      const facts = await inspector.inspect(path, img.diskFormat!);
      let diskFormat = img.diskFormat!;
      const target = config.importConversionFormat;
      if (target && target !== diskFormat && inspector.convertible(diskFormat)) {
        await report(`converting from ${diskFormat} to ${target}: 0%`);
        const out = backend.scratchPath();
        try {
          await inspector.convert(path, diskFormat, out, target, (pct) => {
            void report(`converting from ${diskFormat} to ${target}: ${pct}%`);
          });
          stored = await adoptFile(backend, out);
        } finally {
          await rm(out, { force: true });
        }
        diskFormat = target;
        await staging.delete(stageKey);
      } else {
        await report('moving the data into the store');
        stored = await adoptFile(backend, path);
      }
      const virtualSize =
        diskFormat === img.diskFormat
          ? facts.virtualSize
          : (await inspector.inspect(await backend.localPath(stored.key), diskFormat)).virtualSize;
      const done = await images.transition(
        db,
        img.id,
        'finishImport',
        { ...dataFields(stored, virtualSize), stage_key: null, disk_format: diskFormat },
        now(),
      );
      if (!done) {
        await backend.delete(stored.key);
        throw new Conflict('The image was deleted during the import.', 'image_gone');
      }
      await announceStored(done);
      await tasks.updateTask(db, task.id, {
        status: 'success',
        message: 'Import complete',
        result: { image_id: img.id },
        expiresAt: now() + 48 * 3600_000,
        now: now(),
      });
      await announceTask('task.success', task.id);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.warn({ image: img.id, task: task.id, err: e }, 'image import failed');
      if (stored) await backend.delete(stored.key);
      await staging.delete(stageKey);
      await images
        .transition(db, img.id, 'failImport', { stage_key: null, pending_bytes: 0 }, now())
        .catch(() => undefined);
      await images
        .updateImage(db, img.id, {
          setProperties: { os_glance_failed_import: 'glance-direct' },
          now: now(),
        })
        .catch(() => undefined);
      await tasks.updateTask(db, task.id, {
        status: 'failure',
        message,
        expiresAt: now() + 48 * 3600_000,
        now: now(),
      });
      await announceTask('task.failure', task.id);
    }
  }

  /** Data stored and the image active: Glance's image.upload, then image.activate. */
  async function announceStored(img: Image): Promise<void> {
    await notifications.image('image.upload', img);
    await notifications.image('image.activate', img);
  }

  async function announceTask(e: 'task.success' | 'task.failure', id: string): Promise<void> {
    const t = await tasks.getTask(db, id);
    if (t) await notifications.task(e, t);
  }

  /** Streams `source` into a queued image and makes it active once inspected; refused data leaves nothing. */
  async function fill(img: Image, source: Readable, declared: number | undefined): Promise<Image> {
    const saving = await images.transition(db, img.id, 'startUpload', {}, now());
    await notifications.image('image.prepare', saving ?? img);
    let stored: StoredData | undefined;
    try {
      stored = await receive(img, backend, source, declared);
      const facts = await inspector.inspect(await backend.localPath(stored.key), img.diskFormat!);
      const done = await images.transition(
        db,
        img.id,
        'finishUpload',
        dataFields(stored, facts.virtualSize),
        now(),
      );
      if (!done)
        throw new NubesError(
          'image_gone',
          410,
          `Image ${img.id} was deleted while its data was being uploaded.`,
        );
      await announceStored(done);
      return done;
    } catch (e) {
      if (stored) await backend.delete(stored.key);
      // The data was refused: the image returns to 'queued' and may be filled again.
      await images
        .transition(db, img.id, 'failUpload', { pending_bytes: 0 }, now())
        .catch(() => undefined);
      throw e;
    }
  }

  return {
    /** PUT /v2/images/{id}/file: the image must be queued; it is active when this resolves. */
    async upload(
      ctx: AuthContext,
      id: string,
      source: Readable,
      declared: number | undefined,
    ): Promise<Image> {
      const img = await uploadable(ctx, id, 'upload_image');
      requireFormats(img);
      return fill(img, source, declared);
    },

    /**
     * Fills a queued image another service created for its caller (a server snapshot), with the
     * same quota, hashing and inspection as an upload; no caller, so no policy. The format is the
     * one the data is in, known only once the hypervisor produced it.
     */
    async storeTrusted(id: string, source: Readable, diskFormat: string): Promise<Image> {
      const img = await images.getImage(db, id);
      if (!img) {
        source.resume();
        throw new NotFound(`No image found with ID ${id}`, 'image_not_found');
      }
      return fill(
        (await images.updateImage(db, id, {
          core: { diskFormat, containerFormat: img.containerFormat ?? 'bare' },
          now: now(),
        }))!,
        source,
        undefined,
      );
    },

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

    /** PUT /v2/images/{id}/stage: data for a later import; the image becomes 'uploading'. */
    async stage(
      ctx: AuthContext,
      id: string,
      source: Readable,
      declared: number | undefined,
    ): Promise<void> {
      const img = await uploadable(ctx, id, 'stage_image');
      await images.transition(db, id, 'startStage', {}, now());
      let stored: StoredData | undefined;
      try {
        stored = await receive(img, staging, source, declared);
        if (!(await images.setStageKey(db, id, stored.key, stored.size, now())))
          throw new NubesError(
            'image_gone',
            410,
            `Image ${id} was deleted while its data was being staged.`,
          );
      } catch (e) {
        if (stored) await staging.delete(stored.key);
        await images
          .transition(db, id, 'failStage', { pending_bytes: 0, stage_key: null }, now())
          .catch(() => undefined);
        throw e;
      }
    },

    /** POST /v2/images/{id}/import: starts the import and returns its task at once (202). */
    async startImport(ctx: AuthContext, id: string, method: string): Promise<ImageTask> {
      const img = await records.requireVisible(ctx, id);
      policy.enforce('import_image', ctx.credentials, imageTarget(img));
      if (!(IMPORT_METHODS as readonly string[]).includes(method)) {
        throw new BadRequest(
          `Import method ${method} is not available; this cloud offers: ${IMPORT_METHODS.join(', ')} (see GET /v2/info/import).`,
          'image_import_method',
        );
      }
      if (!img.diskFormat || !img.containerFormat) {
        throw new Conflict(
          `'${img.diskFormat ? 'container_format' : 'disk_format'}' needs to be set before import.`,
          'image_formats_unset',
        );
      }
      if (img.status !== 'uploading' || !img.stageKey) {
        throw new Conflict(
          `Image ${id} has no staged data (status '${img.status}'): stage it first with PUT /v2/images/${id}/stage.`,
          'image_not_staged',
        );
      }
      const started = await images.transition(db, id, 'startImport', {}, now());
      if (!started) throw new NotFound(`No image found with ID ${id}`, 'image_not_found');
      const task = await startTask(started, ctx, method);
      const job = runImport(started, task).finally(() => running.delete(job));
      running.add(job);
      return task;
    },

    async getTask(ctx: AuthContext, id: string): Promise<ImageTask> {
      const t = await tasks.getTask(db, id);
      if (!t)
        throw new NotFound(`Task with the given ID ${id} was not found.`, 'image_task_not_found');
      policy.enforce('get_task', ctx.credentials, { owner: t.owner, project_id: t.owner });
      return t;
    },

    async listTasks(
      ctx: AuthContext,
      f: { imageId?: string; limit: number },
    ): Promise<ImageTask[]> {
      policy.enforce('get_tasks', ctx.credentials, {});
      const viewer = viewerOf(ctx, policy);
      if (f.imageId !== undefined) await records.get(ctx, f.imageId);
      return tasks.listTasks(db, {
        ...f,
        ...(viewer.isAdmin ? {} : { owner: viewer.projectId ?? '' }),
      });
    },

    /**
     * Uploads and imports whose process stopped (no progress for `stalledMs`; they report at least
     * every 64 MiB or every percent) go back to 'queued', as a failed one would, and their task
     * says why. Run at start; safe with several api replicas, since a live upload keeps reporting.
     */
    async recoverStalled(stalledMs: number): Promise<number> {
      let recovered = 0;
      for (const s of await images.listStalled(db, now() - stalledMs)) {
        const action = s.status === 'saving' ? 'failUpload' : 'failImport';
        const moved = await images
          .transition(db, s.id, action, { pending_bytes: 0, stage_key: null }, now())
          .catch(() => undefined);
        if (!moved) continue;
        recovered++;
        if (s.stageKey) await staging.delete(s.stageKey);
        const taskId = moved.properties['os_glance_import_task'];
        if (action === 'failImport' && taskId) {
          await tasks.updateTask(db, taskId, {
            status: 'failure',
            message:
              'The import stopped with the api process that ran it; stage the data and import again.',
            now: now(),
          });
        }
        log.warn(
          { image: s.id, status: s.status },
          'stalled image upload or import returned to queued',
        );
      }
      return recovered;
    },

    /** Waits for imports started by this process (shutdown and tests). */
    async drain(): Promise<void> {
      await Promise.allSettled([...running]);
    },
  };
}

export type ImageData = ReturnType<typeof createImageData>;
