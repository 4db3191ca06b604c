// A host's image cache (or that of the hosts sharing an instances path): each image fetched once
// per host (however many instances boot from it at once),
// checked against the checksum the image service recorded, refused if its header points at other
// files, then kept read-only as the backing file of every instance disk made from it.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { qemuFormat, qemuImgInfo } from '../../../../host/qemu-img.ts';
import { VirtError, type ImageSpec } from '../driver.ts';

export interface CachedImage {
  readonly path: string;
  /** QEMU's name for its format (qcow2, raw, ...). */
  readonly format: string;
  readonly virtualSize: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createImageCache(dir: string) {
  const fetching = new Map<string, Promise<CachedImage>>();

  async function fetch(image: ImageSpec): Promise<CachedImage> {
    // Image ids name files here: only UUIDs, so no id can point outside the cache.
    if (!UUID.test(image.id))
      throw new VirtError(`image id ${image.id} is not a UUID; refusing to cache it`);
    const format = qemuFormat(image.diskFormat);
    const path = join(dir, `${image.id}.${format}`);
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      return { path, format, virtualSize: (await qemuImgInfo(path, format)).virtualSize };
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // A name of this fetch's own: hosts sharing the cache (instances_path on NFS) may fetch the same
    // image at once; each writes its own file and the renames, of identical content, are atomic.
    const part = `${path}.${randomUUID()}.part`;
    const md5 = createHash('md5');
    try {
      await pipeline(
        await image.open(),
        new Transform({
          transform(chunk, _e, done) {
            md5.update(chunk as Buffer);
            done(null, chunk);
          },
        }),
        createWriteStream(part, { mode: 0o600 }),
      );
      const got = md5.digest('hex');
      if (image.checksum !== null && got !== image.checksum)
        throw new VirtError(
          `image ${image.id} arrived with checksum ${got}, not ${image.checksum}; not using it`,
          { retryable: true },
        );
      const info = await qemuImgInfo(part, format);
      if (info.backingFile !== null || info.dataFile !== null)
        throw new VirtError(
          `image ${image.id} refers to other files (backing or data file); refusing it`,
        );
      const fh = await open(part, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(part, path);
      return { path, format, virtualSize: info.virtualSize };
    } catch (e) {
      await rm(part, { force: true });
      throw e instanceof VirtError
        ? e
        : new VirtError(`fetching image ${image.id} failed: ${(e as Error).message}`, {
            retryable: true,
          });
    }
  }

  return {
    dir,
    /** The image in the cache, fetched now if needed; concurrent callers share one fetch. */
    ensure(image: ImageSpec): Promise<CachedImage> {
      let p = fetching.get(image.id);
      if (!p) {
        p = fetch(image).finally(() => fetching.delete(image.id));
        fetching.set(image.id, p);
      }
      return p;
    },
    /** Removes a cached image (no instance may still use it as a backing file). */
    async evict(imageId: string): Promise<void> {
      if (!UUID.test(imageId)) return;
      for (const f of ['qcow2', 'raw', 'vmdk', 'vdi', 'vpc', 'vhdx'])
        await rm(join(dir, `${imageId}.${f}`), { force: true });
    },
  };
}

export type ImageCache = ReturnType<typeof createImageCache>;
