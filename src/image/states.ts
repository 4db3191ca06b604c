// The image status machine, after Glance's: the only table that says which status an action may
// start from and which it leads to. store/images.ts applies it as one compare-and-swap UPDATE.
import type { Transition, TransitionTable } from '../platform/db/transitions.ts';

export const IMAGE_STATUSES = [
  'queued',
  'saving',
  'uploading',
  'importing',
  'active',
  'deactivated',
  'killed',
  'deleted',
  'pending_delete',
] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export type ImageAction =
  | 'startUpload'
  | 'finishUpload'
  | 'failUpload'
  | 'killUpload'
  | 'startStage'
  | 'failStage'
  | 'startImport'
  | 'finishImport'
  | 'failImport'
  | 'deactivate'
  | 'reactivate';

/** An image's one state column. */
export type ImageState = { readonly status: ImageStatus };

/** From which statuses an action may start, and the status it leads to (always one). */
export type ImageTransition = Transition<ImageState> & {
  readonly to: { readonly status: ImageStatus };
};

export const imageTransitions = {
  // PUT /file: data is only accepted into an empty image.
  startUpload: { from: { status: ['queued'] }, to: { status: 'saving' } },
  finishUpload: { from: { status: ['saving'] }, to: { status: 'active' } },
  // The client's data was refused (wrong format, quota, disconnect): the image may be uploaded again.
  failUpload: { from: { status: ['saving'] }, to: { status: 'queued' } },
  // The store failed underneath us: like Glance, the image is unusable and can only be deleted.
  killUpload: { from: { status: ['saving'] }, to: { status: 'killed' } },
  // PUT /stage (interoperable import, step 1); the image stays 'uploading' until the import starts.
  startStage: { from: { status: ['queued'] }, to: { status: 'uploading' } },
  failStage: { from: { status: ['uploading'] }, to: { status: 'queued' } },
  // POST /import: glance-direct takes staged data.
  startImport: { from: { status: ['uploading'] }, to: { status: 'importing' } },
  finishImport: { from: { status: ['importing'] }, to: { status: 'active' } },
  failImport: { from: { status: ['importing'] }, to: { status: 'queued' } },
  // Deactivation hides the data from non-admins; both directions are idempotent, as in Glance.
  deactivate: { from: { status: ['active', 'deactivated'] }, to: { status: 'deactivated' } },
  reactivate: { from: { status: ['deactivated', 'active'] }, to: { status: 'active' } },
} as const satisfies TransitionTable<ImageState, ImageAction, ImageTransition>;

/** What to tell a user who tried `action` while the image was in `status`. */
export function refusalMessage(action: ImageAction, status: string): string {
  switch (action) {
    case 'startUpload':
    case 'startStage':
      return `Image status is '${status}': data can only be uploaded to a 'queued' image. Create a new image to upload again.`;
    case 'startImport':
      return `Image status is '${status}': glance-direct import needs data staged first (PUT /v2/images/{id}/stage), which leaves the image 'uploading'.`;
    case 'deactivate':
      return `Image status is '${status}': only an active image can be deactivated.`;
    case 'reactivate':
      return `Image status is '${status}': only a deactivated image can be reactivated.`;
    default:
      return `Image status is '${status}', which does not allow this (${action}).`;
  }
}
