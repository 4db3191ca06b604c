// Upload use cases: PUT /file from a user, and the trusted fill of an image another service created
// (a server snapshot). Both stream through the intake, inspect the data, then make the image active;
// refused data leaves nothing behind and the image queued.
import type { Readable } from 'node:stream';
import type { AuthContext } from '../../platform/auth/context.ts';
import { NotFound, NubesError } from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import { TRANSFER_ENDED } from '../store/transfers.ts';
import type { Image } from '../model.ts';
import type { StoredData } from './hashing.ts';
import { dataFields, type DataDeps, type Intake } from './intake.ts';

export function createImageUploads(deps: DataDeps, intake: Intake) {
  const { db, backend, inspector, notifications, transfers } = deps;
  const now = deps.now ?? Date.now;

  /** Streams `source` into a queued image and makes it active once inspected; refused data leaves nothing. */
  async function fill(img: Image, source: Readable, declared: number | undefined): Promise<Image> {
    // The upload's owner beats while this process lives; a sweep recovers it if the process stops.
    const transfer = transfers.begin(img.id);
    const owned = { transfer_owner: transfer.owner, transfer_heartbeat: now() };
    let saving: Image | undefined;
    try {
      saving = await images.transition(db, img.id, 'startUpload', owned, now());
    } catch (e) {
      transfer.end();
      throw e;
    }
    await notifications.image('image.prepare', saving ?? img);
    let stored: StoredData | undefined;
    try {
      stored = await intake.receive(img, backend, source, declared, transfer);
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
      await intake.announceStored(done);
      return done;
    } catch (e) {
      if (stored) await backend.delete(stored.key);
      // The data was refused: the image returns to 'queued' and may be filled again.
      await images
        .transition(db, img.id, 'failUpload', { pending_bytes: 0, ...TRANSFER_ENDED }, now())
        .catch(() => undefined);
      throw e;
    } finally {
      transfer.end();
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
      const img = await intake.uploadable(ctx, id, 'upload_image');
      intake.requireFormats(img);
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
  };
}
