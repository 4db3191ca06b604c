// SQL for image members: the projects an image with visibility 'shared' is offered to.
import type { Selectable } from 'kysely';
import type { ImageMemberTable, ImageExecutor } from './tables.ts';
import { uniquely } from '../../platform/db/store-helpers.ts';
import type { ImageMember, MemberStatus } from '../model.ts';

const toMember = (r: Selectable<ImageMemberTable>): ImageMember => ({
  imageId: r.image_id,
  memberId: r.member_id,
  status: r.status as MemberStatus,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export async function insertMember(
  db: ImageExecutor,
  imageId: string,
  memberId: string,
  now: number,
): Promise<ImageMember> {
  const row = {
    image_id: imageId,
    member_id: memberId,
    status: 'pending',
    created_at: now,
    updated_at: now,
  };
  await uniquely(`Member ${memberId} already exists for image ${imageId}.`, () =>
    db.insertInto('image_members').values(row).execute(),
  );
  return toMember(row);
}

export async function getMember(
  db: ImageExecutor,
  imageId: string,
  memberId: string,
): Promise<ImageMember | undefined> {
  const r = await db
    .selectFrom('image_members')
    .selectAll()
    .where('image_id', '=', imageId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  return r && toMember(r);
}

export async function listMembers(db: ImageExecutor, imageId: string): Promise<ImageMember[]> {
  const rows = await db
    .selectFrom('image_members')
    .selectAll()
    .where('image_id', '=', imageId)
    .orderBy('created_at')
    .orderBy('member_id')
    .execute();
  return rows.map(toMember);
}

export async function countMembers(db: ImageExecutor, imageId: string): Promise<number> {
  const r = await db
    .selectFrom('image_members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('image_id', '=', imageId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function setMemberStatus(
  db: ImageExecutor,
  imageId: string,
  memberId: string,
  status: MemberStatus,
  now: number,
): Promise<ImageMember | undefined> {
  await db
    .updateTable('image_members')
    .set({ status, updated_at: now })
    .where('image_id', '=', imageId)
    .where('member_id', '=', memberId)
    .execute();
  return getMember(db, imageId, memberId);
}

export async function deleteMember(
  db: ImageExecutor,
  imageId: string,
  memberId: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('image_members')
    .where('image_id', '=', imageId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
