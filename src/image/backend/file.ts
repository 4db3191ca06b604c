// The file image store: one file per object in a directory (by default <data_dir>/images), written
// through a temp file and renamed when complete, so a reader never sees half an object. Data is
// streamed; nothing is held whole in memory.
import { randomUUID } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFound } from '../../platform/errors.ts';
import type { ImageBackend, StoredObject } from './driver.ts';

const KEY = /^[0-9a-f]{32}$/;

/** Temp files a stopped process left behind; a live writer touches its file far more often than this. */
const ABANDONED_MS = 3600_000;

export function createFileBackend(root: string): ImageBackend {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.tmp-')) continue;
    const st = statSync(join(root, name), { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > ABANDONED_MS) rmSync(join(root, name), { force: true });
  }
  const pathOf = (key: string): string => {
    // Keys come from our database, but a key is still checked before it becomes a path.
    if (!KEY.test(key))
      throw new NotFound(
        `No image data with key ${JSON.stringify(key.slice(0, 64))}.`,
        'image_data_not_found',
      );
    return join(root, key);
  };

  return {
    capabilities: { localFiles: true },
    async write(source: Readable): Promise<StoredObject> {
      const key = randomUUID().replaceAll('-', '');
      const tmp = join(root, `.tmp-${key}`);
      try {
        await pipeline(source, createWriteStream(tmp, { mode: 0o600, highWaterMark: 1024 * 1024 }));
        const fh = await open(tmp, 'r');
        let size: number;
        try {
          await fh.sync();
          size = (await fh.stat()).size;
        } finally {
          await fh.close();
        }
        await rename(tmp, pathOf(key));
        return { key, size };
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    },
    async read(key, range) {
      const path = pathOf(key);
      const st = await stat(path).catch(() => undefined);
      if (!st)
        throw new NotFound(
          'The image data is missing from the store; the image must be uploaded again.',
          'image_data_not_found',
        );
      return createReadStream(path, {
        highWaterMark: 1024 * 1024,
        ...(range ? { start: range.start, end: range.end } : {}),
      });
    },
    async localPath(key) {
      return pathOf(key);
    },
    async size(key) {
      return (await stat(pathOf(key)).catch(() => undefined))?.size;
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    scratchPath() {
      return join(root, `.tmp-${randomUUID().replaceAll('-', '')}`);
    },
  };
}
