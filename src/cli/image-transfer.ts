// The image transfer of an agent running in the api's process (`nubes up`): image bytes read from
// and snapshots written to the image store directly. Remote agents get theirs over HTTP (issue 6).
import type { ImageService } from '../image/index.ts';
import type { ImageTransfer } from '../compute/agent/instance-work.ts';

export function inProcessImageTransfer(image: ImageService): ImageTransfer {
  return {
    open: (id) => image.data.openTrusted(id),
    upload: async (id, data, diskFormat) => { await image.data.storeTrusted(id, data, diskFormat); },
  };
}
