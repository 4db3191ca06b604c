// The interoperable import: staging (PUT /stage), glance-direct runs with optional conversion
// (bounded: a virtual size the project may hold, qemu-img's memory, CPU time, output size and
// wall time, a few at once per project; deleting the image stops it), and their tasks (GET
// /tasks). Stalled ones are recovered by the transfer sweep (transfers.ts).
import type { Readable } from 'node:stream';
import type { AuthContext } from '../../platform/auth/context.ts';
import {
  BadRequest,
  Conflict,
  isNubesError,
  NotFound,
  NubesError,
  OverLimit,
} from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import * as tasks from '../store/tasks.ts';
import * as inFlight from '../store/transfers.ts';
import type { Image, ImageTask } from '../model.ts';
import { adoptFile, type StoredData } from './hashing.ts';
import { imageTarget, viewerOf } from './images.ts';
import { dataFields, type DataDeps, type Intake } from './intake.ts';
import type { Transfer } from './transfers.ts';

export const IMPORT_METHODS = ['glance-direct'] as const;

export function createImageImports(deps: DataDeps, intake: Intake) {
  const { db, policy, records, backend, staging, inspector, config, log, notifications } = deps;
  const { transfers } = deps;
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
  async function runImport(img: Image, task: ImageTask, transfer: Transfer): Promise<void> {
    // Each report is also the import's progress, which the transfer sweep reads.
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
        // The output replaces the staged bytes in the quota; it may grow to the virtual size.
        const allowed = await intake.remainingQuota(img.owner, (await staging.size(stageKey)) ?? 0);
        if (facts.virtualSize !== null && facts.virtualSize > allowed)
          throw new OverLimit(
            `The image's virtual size, ${facts.virtualSize} bytes, is more than the ${allowed} bytes its conversion to ${target} may write (the project's remaining image storage quota, or the cloud's image size cap). Import a smaller disk, convert it to ${target} before uploading, or ask an operator to raise the quota.`,
            'image_virtual_size_over_limit',
          );
        await report(`converting from ${diskFormat} to ${target}: 0%`);
        const out = backend.scratch();
        try {
          await inspector.convert(
            path,
            diskFormat,
            out.path,
            target,
            (pct) => {
              void report(`converting from ${diskFormat} to ${target}: ${pct}%`);
            },
            {
              limits: {
                memoryBytes: config.importMemoryBytes,
                cpuSeconds: config.importCpuSeconds,
                outputBytes: allowed,
                timeoutMs: config.importTimeoutMs,
              },
              signal: transfer.signal,
            },
          );
          stored = await adoptFile(backend, out.path);
        } finally {
          await out.remove();
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
    } catch (caught) {
      // A stopped transfer (the image deleted) fails with why it was stopped, not with the kill.
      const e: unknown = transfer.signal.aborted ? transfer.signal.reason : caught;
      log.warn({ image: img.id, task: task.id, err: caught }, 'image import failed');
      if (stored) await backend.delete(stored.key);
      await staging.delete(stageKey);
      await images
        .transition(
          db,
          img.id,
          'failImport',
          { stage_key: null, pending_bytes: 0, ...inFlight.TRANSFER_ENDED },
          now(),
        )
        .catch(() => undefined);
      await images
        .updateImage(db, img.id, {
          setProperties: { os_glance_failed_import: 'glance-direct' },
          now: now(),
        })
        .catch(() => undefined);
      await tasks.updateTask(db, task.id, {
        status: 'failure',
        message: tenantMessage(e, task.id),
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
      const transfer = transfers.begin(id);
      try {
        await images.transition(
          db,
          id,
          'startStage',
          { transfer_owner: transfer.owner, transfer_heartbeat: now() },
          now(),
        );
      } catch (e) {
        transfer.end();
        throw e;
      }
      let stored: StoredData | undefined;
      try {
        stored = await intake.receive(img, staging, source, declared, transfer);
        if (!(await inFlight.setStageKey(db, id, stored.key, stored.size, transfer.owner, now())))
          throw new NubesError(
            'image_gone',
            410,
            `Image ${id} was deleted while its data was being staged.`,
          );
      } catch (e) {
        if (stored) await staging.delete(stored.key);
        await images
          .transition(
            db,
            id,
            'failStage',
            { pending_bytes: 0, stage_key: null, ...inFlight.TRANSFER_ENDED },
            now(),
          )
          .catch(() => undefined);
        throw e;
      } finally {
        transfer.end();
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
      // One of the project's import slots, or a refusal that says to wait: each import may keep a
      // core busy converting, so a project runs only a few at once, whichever replica runs them.
      const transfer = transfers.begin(id);
      let started;
      try {
        started = await inFlight.startImportInSlot(
          db,
          id,
          config.importsPerProject,
          { transfer_owner: transfer.owner, transfer_heartbeat: now() },
          now(),
        );
      } catch (e) {
        transfer.end();
        throw e;
      }
      if (started === 'full' || !started) {
        transfer.end();
        if (!started) throw new NotFound(`No image found with ID ${id}`, 'image_not_found');
        throw new OverLimit(
          `Project ${img.owner} already runs ${config.importsPerProject} imports, the most this cloud runs at once for a project; import this image when one of them has finished (its image leaves 'importing'). The staged data is kept.`,
          'image_import_limit',
        );
      }
      const task = await startTask(started, ctx, method);
      const job = runImport(started, task, transfer)
        .catch((e: unknown) => log.error({ image: id, err: e }, 'image import crashed'))
        .finally(() => {
          transfer.end();
          running.delete(job);
        });
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

    /** Waits for imports started by this process (shutdown and tests). */
    async drain(): Promise<void> {
      await Promise.allSettled([...running]);
    },
  };
}

/**
 * What an import's task may tell its owner: our own refusals and failures (their messages name no
 * host path), or, for anything else (a file system error names the paths it failed on), a pointer
 * to the log, where the whole error is.
 */
function tenantMessage(e: unknown, taskId: string): string {
  if (isNubesError(e) && !e.code.startsWith('host_command_')) return e.message;
  return `The import failed on the server; an operator can find why in its log under task ${taskId}. Stage the data and import again.`;
}
