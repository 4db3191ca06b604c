// How agents get at image bytes: an agent in the api's process (`nubes up`) reads and writes the
// image store directly; agents in other processes go through the conductor over the bus, which
// serves ranges of images and assembles snapshot chunks in the staging directory (shared by every
// replica, as the image store is).
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageService } from '../image/index.ts';
import type { ImageTransfer } from '../compute/agent/instance-work.ts';
import type { ImageDataPort } from '../compute/index.ts';

export function inProcessImageTransfer(image: ImageService): ImageTransfer {
  return {
    open: (id) => image.data.openTrusted(id),
    upload: async (id, data, diskFormat) => {
      await image.data.storeTrusted(id, data, diskFormat);
    },
  };
}

export function imageDataForAgents(image: ImageService, stagingDir: string): ImageDataPort {
  const dir = join(stagingDir, 'agent-uploads');
  // Upload ids are UUIDs (the conductor checks), so they are safe as file names.
  const file = (uploadId: string) => join(dir, uploadId);
  return {
    read: (imageId, offset, length) => image.data.readTrusted(imageId, offset, length),
    async writeChunk(uploadId, offset, data) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const fh = await open(file(uploadId), offset === 0 ? 'w' : 'r+', 0o600);
      try {
        await fh.write(data, 0, data.length, offset);
      } finally {
        await fh.close();
      }
    },
    async finish(uploadId, imageId, diskFormat) {
      try {
        await image.data.storeTrusted(
          imageId,
          createReadStream(file(uploadId), { highWaterMark: 1024 * 1024 }),
          diskFormat,
        );
      } finally {
        await rm(file(uploadId), { force: true });
      }
    },
  };
}
