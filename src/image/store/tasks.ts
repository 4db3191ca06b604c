// SQL for image tasks: the record of an asynchronous import, its progress and its result.
import type { Selectable } from 'kysely';
import type { ImageTaskTable, ImageExecutor } from './tables.ts';
import { parseJson } from '../../platform/db/store-helpers.ts';
import type { ImageTask, TaskStatus } from '../model.ts';

const toTask = (r: Selectable<ImageTaskTable>): ImageTask => ({
  id: r.id,
  type: r.type,
  status: r.status as TaskStatus,
  owner: r.owner,
  imageId: r.image_id,
  input: parseJson(r.input, {}),
  result: r.result === null ? null : parseJson(r.result, {}),
  message: r.message,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
});

export async function insertTask(
  db: ImageExecutor,
  t: Omit<ImageTask, 'result' | 'message' | 'expiresAt' | 'updatedAt'>,
): Promise<ImageTask> {
  await db
    .insertInto('image_tasks')
    .values({
      id: t.id,
      type: t.type,
      status: t.status,
      owner: t.owner,
      image_id: t.imageId,
      input: JSON.stringify(t.input),
      result: null,
      message: '',
      created_at: t.createdAt,
      updated_at: t.createdAt,
      expires_at: null,
    })
    .execute();
  return (await getTask(db, t.id))!;
}

export async function getTask(db: ImageExecutor, id: string): Promise<ImageTask | undefined> {
  const r = await db.selectFrom('image_tasks').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toTask(r);
}

export async function listTasks(
  db: ImageExecutor,
  f: { owner?: string; imageId?: string; limit: number },
): Promise<ImageTask[]> {
  let q = db
    .selectFrom('image_tasks')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit);
  if (f.owner !== undefined) q = q.where('owner', '=', f.owner);
  if (f.imageId !== undefined) q = q.where('image_id', '=', f.imageId);
  return (await q.execute()).map(toTask);
}

export async function updateTask(
  db: ImageExecutor,
  id: string,
  u: {
    status?: TaskStatus;
    message?: string;
    result?: Record<string, unknown>;
    expiresAt?: number;
    now: number;
  },
): Promise<void> {
  await db
    .updateTable('image_tasks')
    .set({
      updated_at: u.now,
      ...(u.status !== undefined ? { status: u.status } : {}),
      ...(u.message !== undefined ? { message: u.message } : {}),
      ...(u.result !== undefined ? { result: JSON.stringify(u.result) } : {}),
      ...(u.expiresAt !== undefined ? { expires_at: u.expiresAt } : {}),
    })
    .where('id', '=', id)
    .execute();
}
