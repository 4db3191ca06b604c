// Compute's view of the image service (its ImagePort), wired here so neither service imports the other.
import type { ImageService, Image } from '../image/index.ts';
import type { BootImage, ImagePort } from '../compute/index.ts';
import { NubesError } from '../platform/errors.ts';

const boot = (i: Image): BootImage => ({
  id: i.id,
  name: i.name,
  status: i.status,
  diskFormat: i.diskFormat,
  containerFormat: i.containerFormat,
  minDiskGb: i.minDisk,
  minRamMb: i.minRam,
  size: i.size,
  virtualSize: i.virtualSize,
  checksum: i.checksum,
  properties: i.properties,
});

export function imagePortOf(image: ImageService): ImagePort {
  return {
    async find(ctx, id) {
      try {
        return boot(await image.records.get(ctx, id));
      } catch (e) {
        if (e instanceof NubesError && (e.status === 404 || e.status === 403)) return undefined;
        throw e;
      }
    },
    async describe(id) {
      const i = await image.records.describe(id);
      return i && boot(i);
    },
    async createSnapshot(ctx, s) {
      const img = await image.records.create(ctx, {
        name: s.name,
        visibility: 'private',
        properties: s.properties,
        tags: [],
      });
      return img.id;
    },
    removeOwn: (id) => image.system.remove(id),
  };
}
