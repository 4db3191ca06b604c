// Use cases for image records: create, show, list, update (JSON patch), delete, tags, and
// deactivation. Enforces Glance's visibility rules (who may see an image at all) and policy (who
// may do what); data upload, download and import live in data.ts.
import { inTransaction, type DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import {
  BadRequest,
  Conflict,
  Forbidden,
  InvalidState,
  NotFound,
  OverLimit,
} from '../../platform/errors.ts';
import * as images from '../store/images.ts';
import * as members from '../store/members.ts';
import type { Image, ImageCore, ImageQuery } from '../model.ts';
import type { ImageBackend } from '../backend/driver.ts';
import { applyImagePatch, type PatchOp } from './image-patch.ts';
import type { ImageConfig } from './config.ts';
import type { ImageNotifications } from './notifications.ts';
import type { Transfers } from './transfers.ts';

export type Viewer = { readonly projectId: string | null; readonly isAdmin: boolean };

export function viewerOf(ctx: AuthContext, policy: Policy): Viewer {
  return {
    projectId: ctx.scope.kind === 'project' ? ctx.scope.project.id : null,
    isAdmin: policy.check('context_is_admin', ctx.credentials, {}),
  };
}

/** The policy target for an image: Glance's names for the fields rules refer to. */
export function imageTarget(
  img: Pick<Image, 'owner' | 'visibility' | 'protected'>,
  extra: Record<string, unknown> = {},
) {
  return {
    owner: img.owner,
    project_id: img.owner,
    visibility: img.visibility,
    protected: img.protected,
    ...extra,
  };
}

export interface NewImageInput extends Partial<ImageCore> {
  readonly id?: string;
  readonly owner?: string | null;
  readonly properties: Readonly<Record<string, string>>;
  readonly tags: readonly string[];
}

export function createImageRecords(deps: {
  db: DbHandle;
  policy: Policy;
  backend: ImageBackend;
  staging: ImageBackend;
  config: ImageConfig;
  notifications: ImageNotifications;
  transfers: Pick<Transfers, 'cancelImage'>;
  now?: () => number;
}) {
  const { db, policy, backend, staging, config, notifications } = deps;
  const now = deps.now ?? Date.now;

  /** Whether `viewer` may see `img` at all (a member sees a shared image whatever its member status). */
  async function canSee(viewer: Viewer, img: Image): Promise<boolean> {
    if (viewer.isAdmin || img.visibility === 'public' || img.visibility === 'community')
      return true;
    if (viewer.projectId === null) return false;
    if (img.owner === viewer.projectId) return true;
    if (img.visibility === 'shared')
      return (await members.getMember(db, img.id, viewer.projectId)) !== undefined;
    return false;
  }

  /** The image if the caller may see it; otherwise the same 404 as for a missing one. */
  async function requireVisible(ctx: AuthContext, id: string): Promise<Image> {
    const img = await images.getImage(db, id);
    if (!img || !(await canSee(viewerOf(ctx, policy), img)))
      throw new NotFound(`No image found with ID ${id}`, 'image_not_found');
    return img;
  }

  function enforce(
    ctx: AuthContext,
    action: string,
    img: Pick<Image, 'owner' | 'visibility' | 'protected'>,
    extra: Record<string, unknown> = {},
  ) {
    policy.enforce(action, ctx.credentials, imageTarget(img, extra));
  }

  function checkVisibilityChange(
    ctx: AuthContext,
    img: Pick<Image, 'owner' | 'visibility' | 'protected'>,
    visibility: string,
  ) {
    if (
      visibility === 'public' &&
      !policy.check('publicize_image', ctx.credentials, imageTarget(img))
    ) {
      throw new Forbidden(
        'You are not authorized to complete publicize_image action: only an administrator may make an image public; use --community or --shared instead.',
        'policy_denied',
      );
    }
    if (
      visibility === 'community' &&
      !policy.check('communitize_image', ctx.credentials, imageTarget(img))
    ) {
      throw new Forbidden(
        'You are not authorized to complete communitize_image action.',
        'policy_denied',
      );
    }
  }

  function checkLimits(img: {
    tags: readonly string[];
    properties: Readonly<Record<string, string>>;
  }) {
    if (img.tags.length > config.tagQuota)
      throw new OverLimit(
        `Maximum number of tags exceeded: an image may have at most ${config.tagQuota} tags.`,
        'image_tag_limit',
      );
    if (Object.keys(img.properties).length > config.propertyQuota) {
      throw new OverLimit(
        `Maximum number of properties exceeded: an image may have at most ${config.propertyQuota} extra properties.`,
        'image_property_limit',
      );
    }
  }

  /** A tag change is an update of the image, as Glance announces it. */
  async function announceUpdate(id: string): Promise<void> {
    const img = await images.getImage(db, id);
    if (img) await notifications.image('image.update', img);
  }

  return {
    requireVisible,
    canSee,
    /** An image whoever asks: for other services acting on what a caller was already allowed (a build). */
    describe: (id: string): Promise<Image | undefined> => images.getImage(db, id),

    async create(ctx: AuthContext, input: NewImageInput): Promise<Image> {
      const viewer = viewerOf(ctx, policy);
      const owner = input.owner !== undefined ? input.owner : viewer.projectId;
      const core: ImageCore = {
        name: input.name ?? null,
        visibility: input.visibility ?? 'shared',
        protected: input.protected ?? false,
        osHidden: input.osHidden ?? false,
        diskFormat: input.diskFormat ?? null,
        containerFormat: input.containerFormat ?? null,
        minDisk: input.minDisk ?? 0,
        minRam: input.minRam ?? 0,
      };
      if (owner === null)
        throw new BadRequest(
          'An image belongs to a project: use a project-scoped token, or as an admin give "owner".',
          'image_needs_project',
        );
      const draft = { ...core, owner };
      policy.enforce('add_image', ctx.credentials, imageTarget(draft));
      if (owner !== viewer.projectId && !viewer.isAdmin)
        throw new Forbidden(
          'You are not permitted to create images owned by another project.',
          'policy_denied',
        );
      checkVisibilityChange(ctx, draft, core.visibility);
      checkLimits(input);
      if (
        owner &&
        config.imageCountQuota > 0 &&
        (await images.countImages(db, owner)) >= config.imageCountQuota
      ) {
        throw new OverLimit(
          `Project ${owner} already has ${config.imageCountQuota} images, its quota; delete some first.`,
          'image_count_quota',
        );
      }
      const created = await images.insertImage(db, {
        ...core,
        id: input.id ?? crypto.randomUUID(),
        owner,
        properties: input.properties,
        tags: input.tags,
        now: now(),
      });
      await notifications.image('image.create', created);
      return created;
    },

    async get(ctx: AuthContext, id: string): Promise<Image> {
      const img = await requireVisible(ctx, id);
      enforce(ctx, 'get_image', img);
      return img;
    },

    async list(
      ctx: AuthContext,
      q: Omit<ImageQuery, 'viewer' | 'marker'> & { marker?: string },
    ): Promise<Image[]> {
      policy.enforce('get_images', ctx.credentials, {});
      const viewer = viewerOf(ctx, policy);
      let marker: Image | undefined;
      if (q.marker !== undefined) {
        marker = await images.getImage(db, q.marker);
        if (!marker || !(await canSee(viewer, marker)))
          throw new BadRequest(
            `Invalid marker: no image with ID ${q.marker} was found.`,
            'image_bad_marker',
          );
      }
      const { marker: _m, ...rest } = q;
      return images.listImages(db, { ...rest, viewer, ...(marker ? { marker } : {}) });
    },

    async update(ctx: AuthContext, id: string, ops: readonly PatchOp[]): Promise<Image> {
      const img = await requireVisible(ctx, id);
      enforce(ctx, 'modify_image', img);
      const viewer = viewerOf(ctx, policy);
      const result = applyImagePatch(img, ops, { isAdmin: viewer.isAdmin });
      if (result.core.visibility !== undefined && result.core.visibility !== img.visibility)
        checkVisibilityChange(ctx, img, result.core.visibility);
      checkLimits(result.next);
      const updated = await inTransaction(db, (trx) =>
        images.updateImage(trx, id, {
          core: result.core,
          setProperties: result.setProperties,
          removeProperties: result.removeProperties,
          ...(result.tags ? { tags: result.tags } : {}),
          now: now(),
        }),
      );
      if (!updated) throw new NotFound(`No image found with ID ${id}`, 'image_not_found');
      await notifications.image('image.update', updated);
      return updated;
    },

    async remove(ctx: AuthContext, id: string): Promise<void> {
      const img = await requireVisible(ctx, id);
      enforce(ctx, 'delete_image', img);
      if (img.protected)
        throw new Forbidden(
          `Image ${id} is protected and cannot be deleted; unset protection first (openstack image set --unprotected).`,
          'image_protected',
        );
      await images.deleteImage(db, id);
      // The row is gone first, so a concurrent download or upload sees the image as deleted; the
      // bytes go after. What this process moves into it stops now (a conversion is killed, its
      // partial output removed); another replica's stops at its next beat, finding the row gone.
      deps.transfers.cancelImage(id);
      if (img.location) await backend.delete(img.location);
      if (img.stageKey) await staging.delete(img.stageKey);
      await notifications.deleted(img);
    },

    async addTag(ctx: AuthContext, id: string, tag: string): Promise<void> {
      const img = await requireVisible(ctx, id);
      enforce(ctx, 'modify_image', img);
      if (tag.length > 255)
        throw new BadRequest('Tag is longer than 255 characters.', 'image_bad_tag');
      if (!img.tags.includes(tag))
        checkLimits({ tags: [...img.tags, tag], properties: img.properties });
      await images.addTag(db, id, tag, now());
      await announceUpdate(id);
    },

    async removeTag(ctx: AuthContext, id: string, tag: string): Promise<void> {
      const img = await requireVisible(ctx, id);
      enforce(ctx, 'modify_image', img);
      if (!(await images.removeTag(db, id, tag, now())))
        throw new NotFound(`Tag ${tag} not found on image ${id}.`, 'image_tag_not_found');
      await announceUpdate(id);
    },

    async setActive(ctx: AuthContext, id: string, active: boolean): Promise<void> {
      const img = await requireVisible(ctx, id);
      enforce(ctx, active ? 'reactivate' : 'deactivate', img);
      try {
        const moved = await images.transition(
          db,
          id,
          active ? 'reactivate' : 'deactivate',
          {},
          now(),
        );
        if (!moved) throw new NotFound(`No image found with ID ${id}`, 'image_not_found');
        await notifications.image('image.update', moved);
      } catch (e) {
        // Glance answers a (de)activation in the wrong status with 403, not 409.
        if (e instanceof InvalidState)
          throw new Forbidden(
            `Not allowed to ${active ? 'reactivate' : 'deactivate'} image in status '${String(e.fields['status'])}'.`,
            'image_invalid_state',
          );
        throw e;
      }
    },

    /** Bytes stored by the caller's project, and its quota (0: unlimited). */
    async usage(
      ctx: AuthContext,
    ): Promise<{ used: number; quota: number; count: number; countQuota: number }> {
      policy.enforce('get_image_storage_usage', ctx.credentials, {});
      const project = viewerOf(ctx, policy).projectId;
      if (!project)
        throw new Conflict(
          'Image usage is per project; use a project-scoped token.',
          'image_needs_project',
        );
      return {
        used: await images.storageUsed(db, project),
        quota: config.storageQuotaBytes,
        count: await images.countImages(db, project),
        countQuota: config.imageCountQuota,
      };
    },
  };
}

export type ImageRecords = ReturnType<typeof createImageRecords>;
