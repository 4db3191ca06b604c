// The file image store: one file per object in a directory (by default <data_dir>/images), written
// through a temp file and renamed when complete, so a reader never sees half an object. Data is
// streamed; nothing is held whole in memory. Temp files of a live process are touched by it now and
// then; those nobody touched for long (a process that stopped) are removed by the transfer sweep.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFound } from '../../platform/errors.ts';
import type { ImageBackend, StoredObject } from './driver.ts';

const KEY = /^[0-9a-f]{32}$/;
const TEMP = '.tmp-';

export function createFileBackend(root: string): ImageBackend {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  // This process's temp files in use: kept alive, never taken for abandoned ones.
  const live = new Set<string>();
  const tempPath = () => join(root, `${TEMP}${randomUUID().replaceAll('-', '')}`);
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
      const tmp = join(root, `${TEMP}${key}`);
      live.add(tmp);
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
      } finally {
        live.delete(tmp);
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
    scratch() {
      const path = tempPath();
      live.add(path);
      return {
        path,
        async remove() {
          await rm(path, { force: true });
          live.delete(path);
        },
      };
    },
    async keepAlive() {
      const now = new Date();
      for (const path of live) await utimes(path, now, now).catch(() => undefined);
    },
    async removeAbandoned(olderThanMs) {
      const before = Date.now() - olderThanMs;
      let removed = 0;
      for (const name of await readdir(root)) {
        const path = join(root, name);
        if (!name.startsWith(TEMP) || live.has(path)) continue;
        const st = await stat(path).catch(() => undefined);
        if (st && st.mtimeMs < before) {
          await rm(path, { force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}
