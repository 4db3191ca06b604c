// The image transfer of an agent in its own process (`nubes agent`): image bytes read from the
// cloud in ranges over the bus, and snapshots sent back in chunks, through the conductor. No
// credentials or extra ports: the bus the agent already has is enough. Chunks are 1 MiB, base64.
import { Readable } from 'node:stream';
import type { Bus } from '../../platform/bus/bus.ts';
import type { ImageTransfer } from './instance-work.ts';
import { CONDUCTOR } from './instance-work.ts';

const CHUNK = 1024 * 1024;
const TIMEOUT = { timeoutMs: 60_000 };

export function busImageTransfer(bus: Bus): ImageTransfer {
  return {
    async open(imageId) {
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let offset = 0; ;) {
          const r = await bus.call<{ data: string; eof: boolean }>(
            CONDUCTOR,
            'image.read',
            { image_id: imageId, offset, length: CHUNK },
            TIMEOUT,
          );
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
        await bus.call(
          CONDUCTOR,
          'image.upload.chunk',
          { upload_id: uploadId, offset, data: chunk.toString('base64') },
          TIMEOUT,
        );
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
      await bus.call(
        CONDUCTOR,
        'image.upload.finish',
        { upload_id: uploadId, image_id: imageId, disk_format: diskFormat },
        { timeoutMs: 600_000 },
      );
    },
  };
}
