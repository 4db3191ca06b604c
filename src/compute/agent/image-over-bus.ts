// The image transfer of an agent in its own process (`nubes agent`): image bytes read from the
// cloud in ranges over the bus, and snapshots sent back in chunks, through the conductor. No
// credentials or extra ports: the bus the agent already has is enough. Chunks are 1 MiB, base64.
import { Readable } from 'node:stream';
import type { Bus } from '../../platform/bus/bus.ts';
import type { ImageTransfer } from './instance-work.ts';
import { conductorClient } from './protocol.ts';

const CHUNK = 1024 * 1024;

export function busImageTransfer(bus: Bus): ImageTransfer {
  const conductor = conductorClient(bus);
  return {
    async open(imageId) {
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let offset = 0; ;) {
          const r = await conductor.call('image.read', {
            image_id: imageId,
            offset,
            length: CHUNK,
          });
          const data = Buffer.from(r.data, 'base64');
          if (data.length > 0) yield data;
          offset += data.length;
          if (r.eof || data.length === 0) return;
        }
      }
      return Readable.from(chunks());
    },

    async upload(imageId, data, diskFormat) {
      const uploadId = crypto.randomUUID();
      let offset = 0;
      let pending: Buffer[] = [];
      let size = 0;
      const flush = async () => {
        if (size === 0) return;
        const chunk = Buffer.concat(pending, size);
        await conductor.call('image.upload.chunk', {
          upload_id: uploadId,
          offset,
          data: chunk.toString('base64'),
        });
        offset += chunk.length;
        pending = [];
        size = 0;
      };
      for await (const piece of data as AsyncIterable<Buffer>) {
        pending.push(piece);
        size += piece.length;
        if (size >= CHUNK) await flush();
      }
      await flush();
      await conductor.call('image.upload.finish', {
        upload_id: uploadId,
        image_id: imageId,
        disk_format: diskFormat,
      });
    },
  };
}
