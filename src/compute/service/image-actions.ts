// Actions that take or make an image: rescue (boot from a rescue image), shelve (the root disk
// becomes a private image) and unshelve, rebuild (a new image on the same server), createImage.
import { BadRequest } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import type { Instance } from '../model.ts';
import type { ActionDeps, ActionRun } from './action-kit.ts';

export function createImageActions(deps: ActionDeps) {
  const { db, lifecycle, images } = deps;
  const now = deps.now ?? Date.now;

  return {
    async rescue(
      { ctx, i, step, record }: ActionRun,
      rescueImage: string | null,
    ): Promise<Instance> {
      const imageId = rescueImage ?? i.imageId;
      const img = imageId === null ? undefined : await images.find(ctx, imageId);
      if (!img || img.status !== 'active')
        throw new BadRequest(
          `Rescue image ${imageId ?? '(none)'} could not be found or is not active.`,
          'image_not_found',
        );
      const started = await step(i, 'rescue');
      await lifecycle.cast(started, {
        op: 'rescue',
        action_id: await record('rescue'),
        image: {
          id: img.id,
          disk_format: img.diskFormat ?? 'raw',
          checksum: img.checksum,
          properties: img.properties,
        },
      });
      return started;
    },

    async shelve({ ctx, i, step, undo, record }: ActionRun): Promise<Instance> {
      // As Nova: the root disk becomes a private image (<name>-shelved) the instance comes back from.
      const started = await step(i, 'shelve', { progress: 0 });
      const imageId = await images.createSnapshot(ctx, {
        name: `${i.name}-shelved`,
        properties: {
          instance_uuid: i.id,
          image_type: 'snapshot',
          ...(i.imageId ? { base_image_ref: i.imageId } : {}),
          user_id: ctx.user.id,
        },
      });
      undo.push(() => images.removeOwn(imageId));
      const withImage =
        (await instances.updateInstance(db, i.id, { shelved_image_id: imageId }, now())) ?? started;
      await lifecycle.cast(withImage, {
        op: 'shelve',
        action_id: await record('shelve'),
        snapshot_image_id: imageId,
        timeout_s: 60,
      });
      return withImage;
    },

    async unshelve({ i, step, record }: ActionRun): Promise<Instance> {
      const started = await step(i, 'unshelve');
      await lifecycle.placeAndCast(started, 'unshelve', await record('unshelve'));
      return started;
    },

    async rebuild(
      { ctx, i, step, record }: ActionRun,
      a: {
        readonly imageId: string;
        readonly name: string | null;
        readonly metadata: Readonly<Record<string, string>> | null;
        readonly description?: string | null;
      },
    ): Promise<Instance> {
      const img = await images.find(ctx, a.imageId);
      if (!img) throw new BadRequest(`Image ${a.imageId} could not be found.`, 'image_not_found');
      if (img.status !== 'active')
        throw new BadRequest(`Image ${a.imageId} is not active.`, 'image_not_active');
      const started = await step(i, 'rebuild', { image_id: img.id, progress: 0 });
      const updated =
        (await instances.updateInstance(
          db,
          i.id,
          {
            ...(a.name !== null ? { name: a.name } : {}),
            ...(a.metadata !== null ? { metadata: JSON.stringify(a.metadata) } : {}),
            ...(a.description !== undefined ? { description: a.description } : {}),
          },
          now(),
        )) ?? started;
      await lifecycle.cast(updated, {
        op: 'rebuild',
        action_id: await record('rebuild'),
        instance: await lifecycle.wireInstance(updated),
      });
      return updated;
    },

    /** createImage: a snapshot of the root disk into a new image; returns the image's id too. */
    async createImage(
      { ctx, i, step, record }: ActionRun,
      a: { readonly name: string; readonly metadata: Readonly<Record<string, string>> },
    ): Promise<{ instance: Instance; imageId: string }> {
      const started = await step(i, 'snapshot', { progress: 0 });
      const imageId = await images.createSnapshot(ctx, {
        name: a.name,
        properties: {
          ...a.metadata,
          instance_uuid: i.id,
          image_type: 'snapshot',
          ...(i.imageId ? { base_image_ref: i.imageId } : {}),
          user_id: ctx.user.id,
        },
      });
      await lifecycle.cast(started, {
        op: 'snapshot',
        action_id: await record('createImage'),
        snapshot_image_id: imageId,
      });
      return { instance: started, imageId };
    },
  };
}
