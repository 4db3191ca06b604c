// The interoperable import: staging (PUT /stage), glance-direct runs with optional conversion, their
// tasks (GET /tasks), and the recovery of uploads and imports whose process stopped.
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { AuthContext } from '../../platform/auth/context.ts';
import { BadRequest, Conflict, NotFound, NubesError } from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import * as tasks from '../store/tasks.ts';
import type { Image, ImageTask } from '../model.ts';
import { adoptFile, type StoredData } from './hashing.ts';
import { imageTarget, viewerOf } from './images.ts';
import { dataFields, type DataDeps, type Intake } from './intake.ts';

export const IMPORT_METHODS = ['glance-direct'] as const;

export function createImageImports(deps: DataDeps, intake: Intake) {
  const { db, policy, records, backend, staging, inspector, config, log, notifications } = deps;
  const now = deps.now ?? Date.now;
  const running = new Set<Promise<void>>();

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
      await intake.announceStored(done);
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

  async function announceTask(e: 'task.success' | 'task.failure', id: string): Promise<void> {
    const t = await tasks.getTask(db, id);
    if (t) await notifications.task(e, t);
  }

  return {
    /** PUT /v2/images/{id}/stage: data for a later import; the image becomes 'uploading'. */
    async stage(
      ctx: AuthContext,
      id: string,
      source: Readable,
      declared: number | undefined,
    ): Promise<void> {
      const img = await intake.uploadable(ctx, id, 'stage_image');
      await images.transition(db, id, 'startStage', {}, now());
      let stored: StoredData | undefined;
      try {
        stored = await intake.receive(img, staging, source, declared);
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
