// Images the cloud registers itself (the nubes-tiny guest, its kernel and ramdisk): from a local
// file, owned by the admin project, with no caller and so no policy. The same inspection as an
// upload applies. Idempotent: an active image with the same name and `nubes_build` is reused.
// It also deletes images compute made for itself (a shelved disk once unshelved).
import type { DbHandle } from '../../platform/db/database.ts';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as images from '../store/images.ts';
import type { Image, Visibility } from '../model.ts';
import type { ImageBackend } from '../backend/driver.ts';
import { writeHashed, type StoredData } from './hashing.ts';
import type { DiskInspector } from './disk-inspector.ts';
import { dataFields } from './data.ts';
import type { Transfers } from './transfers.ts';

export interface SystemImage {
  readonly name: string;
  readonly file: string;
  readonly diskFormat: string;
  readonly containerFormat: string;
  readonly visibility: Visibility;
  readonly owner: string;
  /** Identifies the build; a different value registers a new image (the old one stays). */
  readonly build: string;
  readonly properties?: Readonly<Record<string, string>>;
  readonly minDisk?: number;
  readonly minRam?: number;
}

export function createSystemImages(deps: {
  db: DbHandle;
  backend: ImageBackend;
  staging: ImageBackend;
  inspector: DiskInspector;
  transfers: Transfers;
  now?: () => number;
}) {
  const { db, backend, staging, inspector, transfers } = deps;
  const now = deps.now ?? Date.now;

  return {
    /** Deletes an image the cloud made for itself (compute's shelved disks), whatever its state; gone already is fine. */
    async remove(id: string): Promise<void> {
      const img = await images.getImage(db, id);
      if (!img || !(await images.deleteImage(db, id))) return;
      if (img.location) await backend.delete(img.location);
      if (img.stageKey) await staging.delete(img.stageKey);
    },

    /** The active image named `s.name` of build `s.build`, registering it from `s.file` if needed. */
    async ensure(s: SystemImage): Promise<Image> {
      const found = await images.listImages(db, {
        viewer: { projectId: null, isAdmin: true },
        names: [s.name],
        properties: { nubes_build: s.build },
        statuses: ['active'],
        sort: [
          { key: 'created_at', dir: 'desc' },
          { key: 'id', dir: 'desc' },
        ],
        limit: 1,
      });
      if (found[0]) return found[0];
      const img = await images.insertImage(db, {
        id: crypto.randomUUID(),
        name: s.name,
        visibility: s.visibility,
        protected: false,
        osHidden: false,
        diskFormat: s.diskFormat,
        containerFormat: s.containerFormat,
        minDisk: s.minDisk ?? 0,
        minRam: s.minRam ?? 0,
        owner: s.owner,
        properties: { ...s.properties, nubes_build: s.build },
        tags: [],
        now: now(),
      });
      // Owned like any upload, so the sweep leaves it be while this process lives.
      const transfer = transfers.begin(img.id);
      let stored: StoredData | undefined;
      try {
        await images.transition(
          db,
          img.id,
          'startUpload',
          { transfer_owner: transfer.owner, transfer_heartbeat: now() },
          now(),
        );
        stored = await writeHashed(
          backend,
          createReadStream(s.file, { highWaterMark: 1024 * 1024 }),
          { limit: Number.MAX_SAFE_INTEGER, expectedBytes: (await stat(s.file)).size },
        );
        const facts = await inspector.inspect(await backend.localPath(stored.key), s.diskFormat);
        return (await images.transition(
          db,
          img.id,
          'finishUpload',
          dataFields(stored, facts.virtualSize),
          now(),
        ))!;
      } catch (e) {
        if (stored) await backend.delete(stored.key);
        await images.deleteImage(db, img.id);
        throw e;
      } finally {
        transfer.end();
      }
    },
  };
}
