// The image data use cases as one object for index.ts: upload (upload.ts), download (download.ts),
// staging and import (import.ts), over the shared intake (intake.ts). Re-exports what routes and
// system-images use, so their import lines stay as they were.
import { createIntake, type DataDeps } from './intake.ts';
import { createImageUploads } from './upload.ts';
import { createImageDownloads } from './download.ts';
import { createImageImports } from './import.ts';

export { dataFields, type DataDeps } from './intake.ts';
export { parseRange, type Download } from './download.ts';
export { IMPORT_METHODS } from './import.ts';

export function createImageData(deps: DataDeps) {
  const intake = createIntake(deps);
  return {
    ...createImageUploads(deps, intake),
    ...createImageDownloads(deps),
    ...createImageImports(deps, intake),
  };
}

export type ImageData = ReturnType<typeof createImageData>;
