// The image service's configuration section: where image data and staged imports are kept, quotas,
// the import conversion, and the nubes-tiny guest image `nubes up` registers (with the build cache
// it is made in), with their defaults. The service's own fields are ImageConfig (service/config.ts).
import { join, resolve } from 'node:path';
import { defineSection } from '../platform/config/section.ts';
import { defaultCacheDir } from '../platform/config/dirs.ts';
import { DEFAULT_IMAGE_CONFIG, type ImageConfig } from './service/config.ts';

export { DEFAULT_IMAGE_CONFIG, type ImageConfig } from './service/config.ts';

export interface ImageSectionConfig {
  /** Builds kept between runs (the tiny guest image); not data: safe to delete. */
  readonly cacheDir: string;
  readonly image: ImageConfig & {
    /** Whether `nubes up` builds and registers the nubes-tiny guest image. */
    readonly tinyImage: boolean;
    /** Where the file store keeps image data (default <data_dir>/images; share it between api replicas). */
    readonly storeDir: string;
    /** Where data staged for import waits (default <data_dir>/image-staging). */
    readonly stagingDir: string;
  };
}

export const imageSection = defineSection({
  settings: [
    // The build cache is listed with the image settings as it holds the tiny image's build, the
    // only one today; it stays a top-level key (cache_dir) and field (cacheDir).
    {
      key: 'cache_dir',
      env: 'NUBES_CACHE_DIR',
      flag: '--cache-dir',
      kind: 'string',
      help: 'build cache (default /var/cache/nubes for root, ~/.cache/nubes)',
    },
    {
      key: 'image.tiny_image',
      env: 'NUBES_TINY_IMAGE',
      kind: 'switch',
      help: 'on|off: nubes up registers the nubes-tiny guest image (default on)',
    },
    {
      key: 'image.store_dir',
      env: 'NUBES_IMAGE_STORE_DIR',
      kind: 'string',
      help: 'image data directory (default <data-dir>/images)',
    },
    {
      key: 'image.staging_dir',
      env: 'NUBES_IMAGE_STAGING_DIR',
      kind: 'string',
      help: 'staging for image import (default <data-dir>/image-staging)',
    },
    {
      key: 'image.storage_quota_bytes',
      env: 'NUBES_IMAGE_STORAGE_QUOTA',
      kind: 'count',
      help: 'image bytes per project, 0 = unlimited (default 0)',
    },
    {
      key: 'image.count_quota',
      env: 'NUBES_IMAGE_COUNT_QUOTA',
      kind: 'count',
      help: 'images per project, 0 = unlimited (default 0)',
    },
    {
      key: 'image.import_conversion_format',
      env: 'NUBES_IMAGE_IMPORT_FORMAT',
      kind: { oneOf: ['qcow2', 'raw', 'none'] },
      help: 'qcow2|raw|none: format imports are converted to (default qcow2)',
    },
  ],
  resolve(v, { env, dataDir }): ImageSectionConfig {
    const d = DEFAULT_IMAGE_CONFIG;
    const conversion = v['image.import_conversion_format'];
    return {
      cacheDir: resolve(v.cache_dir ?? defaultCacheDir(env)),
      image: {
        ...d,
        tinyImage: v['image.tiny_image'] ?? true,
        storeDir: resolve(v['image.store_dir'] ?? join(dataDir, 'images')),
        stagingDir: resolve(v['image.staging_dir'] ?? join(dataDir, 'image-staging')),
        storageQuotaBytes: v['image.storage_quota_bytes'] ?? d.storageQuotaBytes,
        imageCountQuota: v['image.count_quota'] ?? d.imageCountQuota,
        importConversionFormat:
          conversion === undefined
            ? d.importConversionFormat
            : conversion === 'none'
              ? null
              : conversion,
      },
    };
  },
});
