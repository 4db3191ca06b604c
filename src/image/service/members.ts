// Use cases for image members: the owner offers a 'shared' image to other projects, and each of
// them accepts or rejects it (which decides whether it shows in their image list).
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, Forbidden, NotFound, OverLimit } from '../../platform/errors.ts';
import * as members from '../store/members.ts';
import { MEMBER_STATUSES, type Image, type ImageMember, type MemberStatus } from '../model.ts';
import type { ImageConfig } from './config.ts';
import type { ImageNotifications } from './notifications.ts';
import { imageTarget, viewerOf, type ImageRecords } from './images.ts';

export function createImageMembers(deps: {
  db: DbHandle;
  policy: Policy;
  records: ImageRecords;
  config: ImageConfig;
  notifications: ImageNotifications;
  now?: () => number;
}) {
  const { db, policy, records, config, notifications } = deps;
  const now = deps.now ?? Date.now;

  const target = (img: Image, memberId: string | null) => imageTarget(img, { member_id: memberId });

  function requireShared(img: Image): void {
    if (img.visibility !== 'shared') {
      throw new Forbidden(
        `Only shared images have members; image ${img.id} is ${img.visibility}. Set it shared first (openstack image set --shared).`,
        'image_not_shared',
      );
    }
  }

  async function requireMember(imageId: string, memberId: string): Promise<ImageMember> {
    const m = await members.getMember(db, imageId, memberId);
    if (!m)
      throw new NotFound(
        `${memberId} is not a member of image ${imageId}.`,
        'image_member_not_found',
      );
    return m;
  }

  return {
    async list(ctx: AuthContext, imageId: string): Promise<ImageMember[]> {
      const img = await records.requireVisible(ctx, imageId);
      const viewer = viewerOf(ctx, policy);
      policy.enforce('get_members', ctx.credentials, target(img, viewer.projectId));
      requireShared(img);
      const all = await members.listMembers(db, imageId);
      // A member sees only its own membership; the owner and admins see all of them.
      return viewer.isAdmin || img.owner === viewer.projectId
        ? all
        : all.filter((m) => m.memberId === viewer.projectId);
    },

    async get(ctx: AuthContext, imageId: string, memberId: string): Promise<ImageMember> {
      const img = await records.requireVisible(ctx, imageId);
      const viewer = viewerOf(ctx, policy);
      policy.enforce('get_member', ctx.credentials, target(img, memberId));
      requireShared(img);
      if (!viewer.isAdmin && img.owner !== viewer.projectId && memberId !== viewer.projectId) {
        throw new NotFound(
          `${memberId} is not a member of image ${imageId}.`,
          'image_member_not_found',
        );
      }
      return requireMember(imageId, memberId);
    },

    async add(ctx: AuthContext, imageId: string, memberId: string): Promise<ImageMember> {
      const img = await records.requireVisible(ctx, imageId);
      policy.enforce('add_member', ctx.credentials, target(img, memberId));
      requireShared(img);
      if (memberId === '' || memberId.length > 255)
        throw new BadRequest(
          'The member must be a project id of at most 255 characters.',
          'image_bad_member',
        );
      if ((await members.countMembers(db, imageId)) >= config.memberQuota) {
        throw new OverLimit(
          `Maximum number of members exceeded: an image may be shared with at most ${config.memberQuota} projects.`,
          'image_member_limit',
        );
      }
      const added = await members.insertMember(db, imageId, memberId, now());
      await notifications.member('image.member.create', added);
      return added;
    },

    async setStatus(
      ctx: AuthContext,
      imageId: string,
      memberId: string,
      status: string,
    ): Promise<ImageMember> {
      const img = await records.requireVisible(ctx, imageId);
      if (!(MEMBER_STATUSES as readonly string[]).includes(status)) {
        throw new BadRequest(
          `Invalid status ${JSON.stringify(status)}: use one of ${MEMBER_STATUSES.join(', ')}.`,
          'image_bad_member_status',
        );
      }
      await requireMember(imageId, memberId);
      policy.enforce('modify_member', ctx.credentials, target(img, memberId));
      // Only the member itself decides whether it accepts, even an admin acting for it through policy.
      const viewer = viewerOf(ctx, policy);
      if (viewer.projectId !== memberId && !viewer.isAdmin)
        throw new Forbidden(
          `Only project ${memberId} may change its own membership status.`,
          'policy_denied',
        );
      const set = (await members.setMemberStatus(
        db,
        imageId,
        memberId,
        status as MemberStatus,
        now(),
      ))!;
      await notifications.member('image.member.update', set);
      return set;
    },

    async remove(ctx: AuthContext, imageId: string, memberId: string): Promise<void> {
      const img = await records.requireVisible(ctx, imageId);
      policy.enforce('delete_member', ctx.credentials, target(img, memberId));
      requireShared(img);
      const m = await members.getMember(db, imageId, memberId);
      if (!m || !(await members.deleteMember(db, imageId, memberId)))
        throw new NotFound(
          `${memberId} is not a member of image ${imageId}.`,
          'image_member_not_found',
        );
      await notifications.memberDeleted(m);
    },
  };
}

export type ImageMembers = ReturnType<typeof createImageMembers>;
