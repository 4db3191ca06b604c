// What an agent does with instance work cast to its host: runs the virt driver, one piece at a time
// per instance, tells the conductor its steps as they come (taken, started, disk copied, a clean
// shutdown awaited or forced) and its result, and logs each with its ids. Never touches the database.
import { Readable } from 'node:stream';
import type { Bus } from '../../platform/bus/bus.ts';
import type { Logger } from '../../platform/log.ts';
import {
  VirtError,
  type DriverStep,
  type ImageSpec,
  type InstanceSpec,
  type PowerState,
  type VirtDriver,
} from './virt/driver.ts';
import {
  actionName,
  conductorClient,
  type HostWork,
  type HostWorkResult,
  type WorkStep,
  type WireImage,
  type WireInstance,
  type WireMigrationTarget,
} from './protocol.ts';

/** Image bytes for the driver (and snapshot data back), however this agent reaches the image store. */
export interface ImageTransfer {
  open(imageId: string): Promise<Readable>;
  upload(imageId: string, data: Readable, diskFormat: string): Promise<void>;
}

/** `data` as it is, calling `first` when its reader asks for the first bytes (an upload has begun). */
function onFirstRead(data: Readable, first: () => void): Readable {
  async function* passing() {
    first();
    yield* data;
  }
  return Readable.from(passing(), { objectMode: false });
}

/** For agents without an image transfer configured: drivers that never read image data still work. */
export const NO_IMAGE_TRANSFER: ImageTransfer = {
  open: async (id) => {
    throw new VirtError(`this agent cannot read image ${id}: no image transfer is configured`);
  },
  upload: async (id) => {
    throw new VirtError(`this agent cannot upload image ${id}: no image transfer is configured`);
  },
};

export function createInstanceWorker(deps: {
  bus: Bus;
  host: string;
  driver: VirtDriver;
  images: ImageTransfer;
  log: Logger;
}) {
  const { host, driver, images, log } = deps;
  const conductor = conductorClient(deps.bus);
  const chains = new Map<string, Promise<void>>();
  /** The work each instance's driver call is doing now, and when its clean shutdown began. */
  const current = new Map<string, { work: HostWork; waitSince?: number }>();

  const ids = (w: HostWork) => ({
    instance_id: w.uuid,
    request_id: w.request_id ?? null,
    op: w.op,
    host,
  });
  /** Tells the conductor where `w` is; a lost step only leaves the task as it was. */
  function tell(w: HostWork, step: WorkStep, more: { seconds?: number; behind?: boolean } = {}) {
    conductor
      .cast('instance.step', {
        op: w.op,
        uuid: w.uuid,
        host,
        action_id: w.action_id,
        ...(w.request_id !== undefined ? { request_id: w.request_id } : {}),
        step,
        ...more,
      })
      .catch((err: unknown) => log.warn({ ...ids(w), step, err }, 'could not report a work step'));
  }

  // The driver's waits, told for the work under way on that instance (a power sync's own stop has none).
  function onDriverStep(s: DriverStep): void {
    const c = current.get(s.uuid);
    const at = Date.now();
    const base = c ? ids(c.work) : { instance_id: s.uuid, request_id: null, host };
    if (s.step === 'shutdown_wait') {
      if (c) c.waitSince = at;
      log.info({ ...base, timeout_s: s.seconds }, 'clean shutdown requested');
    } else {
      const ms = c?.waitSince === undefined ? null : at - c.waitSince;
      if (s.step === 'shutdown_done') log.info({ ...base, ms }, 'guest stopped cleanly');
      else log.info({ ...base, ms }, `guest did not stop in ${s.seconds} s, forcing`);
    }
    if (c) tell(c.work, s.step, { seconds: s.seconds });
  }
  const unwatchSteps = driver.steps?.(onDriverStep);

  const imageSpec = (w: WireImage): ImageSpec => ({
    id: w.id,
    diskFormat: w.disk_format,
    checksum: w.checksum,
    properties: w.properties,
    open: () => images.open(w.id),
  });
  const instanceSpec = (w: WireInstance): InstanceSpec => ({
    uuid: w.uuid,
    name: w.name,
    hostname: w.hostname,
    flavor: w.flavor,
    image: imageSpec(w.image),
    nics: [],
    metadata: {
      publicKeys: w.metadata.public_keys,
      userData: w.metadata.user_data,
      meta: w.metadata.meta,
      configDrive: w.metadata.config_drive,
    },
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new VirtError(`the work carries no ${what}`);
    return v;
  };

  /** A snapshot's sink: the copy is made when it is called, and uploading once its first bytes pass. */
  const upload =
    (w: HostWork, imageId: string) =>
    (data: Readable, format: string): Promise<void> => {
      tell(w, 'image_pending_upload');
      return images.upload(
        imageId,
        onFirstRead(data, () => tell(w, 'image_uploading')),
        format,
      );
    };

  /** Does the work; answers what the result carries besides success (a live migration's target). */
  async function run(w: HostWork): Promise<{ target?: WireMigrationTarget } | void> {
    const d = driver;
    switch (w.op) {
      case 'build':
      case 'unshelve': {
        const spec = instanceSpec(need(w.instance, 'instance'));
        try {
          await d.spawn(spec);
        } catch (e) {
          // spawn leaves nothing behind by contract; destroy anyway, it is what cleans up.
          await d.destroy(w.uuid).catch(() => undefined);
          throw e;
        }
        return;
      }
      case 'rebuild':
        await d.destroy(w.uuid);
        tell(w, 'spawning');
        await d.spawn(instanceSpec(need(w.instance, 'instance')));
        return;
      case 'destroy':
      case 'shelve_offload':
        return d.destroy(w.uuid);
      case 'shelve': {
        // Off (cleanly if it runs: a paused guest cannot answer the power button), its disk kept as the image, gone from here.
        const id = need(w.snapshot_image_id, 'shelved image');
        await d.powerOff(
          w.uuid,
          (await d.powerState(w.uuid)) === 'running' ? (w.timeout_s ?? 60) : 0,
        );
        await d.snapshot(w.uuid, upload(w, id));
        return d.destroy(w.uuid);
      }
      case 'stop':
        return d.powerOff(w.uuid, w.timeout_s ?? 60);
      case 'start':
        return d.powerOn(w.uuid);
      case 'reboot':
        return d.reboot(w.uuid, 'soft');
      case 'reboot_hard':
        return d.reboot(w.uuid, 'hard');
      case 'pause':
        return d.pause(w.uuid);
      case 'unpause':
        return d.unpause(w.uuid);
      case 'suspend':
        return d.suspend(w.uuid);
      case 'resume':
        return d.resume(w.uuid);
      case 'rescue':
        return d.rescue(w.uuid, imageSpec(need(w.image, 'rescue image')));
      case 'unrescue':
        return d.unrescue(w.uuid);
      case 'resize':
        return d.resize(w.uuid, need(w.flavor, 'flavor'));
      case 'confirm_resize':
        return d.confirmResize(w.uuid);
      case 'revert_resize':
        return d.revertResize(w.uuid, need(w.flavor, 'flavor'));
      case 'snapshot': {
        const id = need(w.snapshot_image_id, 'snapshot image');
        return d.snapshot(w.uuid, upload(w, id));
      }
      case 'live_migration_prepare':
      case 'cold_migration_prepare': {
        const t = await d.prepareMigration(instanceSpec(need(w.instance, 'instance')), {
          block: w.block_migration ?? 'auto',
        });
        return { target: { uri: t.uri, disks: t.disks } };
      }
      case 'live_migration':
        return d.migrate(w.uuid, need(w.target, 'migration target'));
      case 'cold_migration':
        return d.sendDisks(w.uuid, need(w.target, 'migration target'));
      case 'live_migration_finish':
        return d.finishMigration(w.uuid, true);
      case 'cold_migration_finish':
        await d.finishMigration(w.uuid, true);
        if (w.power_on) await d.powerOn(w.uuid);
        return;
      case 'live_migration_abort':
      case 'cold_migration_abort':
        return d.finishMigration(w.uuid, false);
      // The copy on this host is not the instance any more: the source's after a confirm, the
      // destination's after a revert (disks on shared storage stay: they are the instance's).
      case 'cold_migration_confirm':
      case 'cold_migration_revert':
        return d.forget(w.uuid);
      case 'cold_migration_revert_finish':
        if (w.power_on) await d.powerOn(w.uuid);
        return;
      default:
        return w.op satisfies never;
    }
  }

  async function powerAfter(w: HostWork): Promise<PowerState | null> {
    if (
      [
        'destroy',
        'shelve_offload',
        'shelve',
        'live_migration',
        'live_migration_abort',
        'cold_migration_abort',
        'cold_migration_confirm',
        'cold_migration_revert',
      ].includes(w.op)
    )
      return 'nostate';
    return driver.powerState(w.uuid).catch(() => null);
  }

  /** Runs `w`; `behind`: it waited for earlier work on the instance (that wait ends now). */
  async function handle(w: HostWork, behind = false): Promise<void> {
    let result: HostWorkResult;
    const started = Date.now();
    const echo = w.request_id !== undefined ? { request_id: w.request_id } : {};
    current.set(w.uuid, { work: w });
    log.info(ids(w), `instance.${actionName(w.op)} host start`);
    tell(w, 'started', { behind });
    try {
      const extra = await run(w);
      result = {
        op: w.op,
        uuid: w.uuid,
        host,
        action_id: w.action_id,
        ...echo,
        ok: true,
        power_state: await powerAfter(w),
        ...(extra ?? {}),
      };
    } catch (e) {
      const err = e as Error;
      log.warn({ ...ids(w), err }, 'instance work failed');
      result = {
        op: w.op,
        uuid: w.uuid,
        host,
        action_id: w.action_id,
        ...echo,
        ok: false,
        power_state: await powerAfter(w),
        message: err.message,
        retryable: e instanceof VirtError && e.retryable,
      };
    } finally {
      current.delete(w.uuid);
    }
    log.info(
      { ...ids(w), ok: result.ok, ms: Date.now() - started },
      `instance.${actionName(w.op)} host end`,
    );
    await conductor.cast('instance.result', result);
  }

  /** Queues `fn` behind whatever this instance is already doing. */
  function enqueue(uuid: string, fn: () => Promise<void>, failed: string): Promise<void> {
    const prev = chains.get(uuid) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => log.error({ err, instance: uuid }, failed));
    chains.set(uuid, next);
    void next.then(() => {
      if (chains.get(uuid) === next) chains.delete(uuid);
    });
    return next;
  }

  return {
    /** Queues work behind whatever this instance is already doing; resolves when it is done. */
    submit: (w: HostWork): Promise<void> => {
      // Taken: it runs at once, or after the work already queued on this instance.
      const behind = chains.has(w.uuid);
      log.info({ ...ids(w), behind }, `instance.${actionName(w.op)} queued`);
      tell(w, 'queued', { behind });
      return enqueue(w.uuid, () => handle(w, behind), 'could not report instance work');
    },
    /** Whether work on this instance is queued or running (its result will carry the power state). */
    busy: (uuid: string): boolean => chains.has(uuid),
    /** Runs `fn` in the instance's queue, reporting nothing (the power sync's own corrections). */
    local: (uuid: string, what: string, fn: () => Promise<void>): Promise<void> =>
      enqueue(uuid, fn, `${what} failed`),
    /** Waits for every piece of work in flight (agent stop). */
    async idle(): Promise<void> {
      await Promise.allSettled([...chains.values()]);
    },
    /** Stops hearing the driver's steps (agent stop, after idle). */
    close(): void {
      unwatchSteps?.();
    },
  };
}
