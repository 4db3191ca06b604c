// The image service's configuration section: where image data and staged imports are kept, quotas,
// the import conversion, and the nubes-tiny guest image `nubes up` registers (with the build cache
// it is made in), with their defaults. The service's own fields are ImageConfig (service/config.ts).
import { join, resolve } from 'node:path';
import { defineSection } from '../platform/config/section.ts';
import { ConfigError } from '../platform/config/setting.ts';
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
    {
      key: 'image.size_cap_bytes',
      env: 'NUBES_IMAGE_SIZE_CAP',
      kind: 'int',
      help: 'largest image data, and imported virtual size, in bytes (default 1 TiB)',
    },
    {
      key: 'image.imports_per_project',
      env: 'NUBES_IMAGE_IMPORTS_PER_PROJECT',
      kind: 'int',
      help: 'imports (conversions) one project runs at once (default 2)',
    },
    {
      key: 'image.import_memory_mib',
      env: 'NUBES_IMAGE_IMPORT_MEMORY_MIB',
      kind: 'int',
      help: "address space of one import's qemu-img, MiB (default 2048)",
    },
    {
      key: 'image.import_cpu_seconds',
      env: 'NUBES_IMAGE_IMPORT_CPU_SECONDS',
      kind: 'int',
      help: 'CPU time one import conversion may use (default 3600)',
    },
    {
      key: 'image.import_timeout_seconds',
      env: 'NUBES_IMAGE_IMPORT_TIMEOUT_SECONDS',
      kind: 'int',
      help: 'wall time one import conversion may take (default 7200)',
    },
    {
      key: 'image.transfer_sweep_seconds',
      env: 'NUBES_IMAGE_TRANSFER_SWEEP_SECONDS',
      kind: 'int',
      help: 'how often each api process sweeps for stalled uploads and imports (default 60)',
    },
    {
      key: 'image.transfer_stalled_seconds',
      env: 'NUBES_IMAGE_TRANSFER_STALLED_SECONDS',
      kind: 'int',
      help: 'silence after which an upload or import whose process stopped is recovered (default 300)',
    },
  ],
  resolve(v, { env, dataDir }): ImageSectionConfig {
    const d = DEFAULT_IMAGE_CONFIG;
    const conversion = v['image.import_conversion_format'];
    const sweepMs = (v['image.transfer_sweep_seconds'] ?? d.transferSweepMs / 1000) * 1000;
    const stalledMs = (v['image.transfer_stalled_seconds'] ?? d.transferStalledMs / 1000) * 1000;
    // A live process beats once per sweep: a silence of two beats is the least that means it stopped.
    if (stalledMs < 2 * sweepMs)
      throw new ConfigError(
        `image.transfer_stalled_seconds (${stalledMs / 1000}) must be at least twice image.transfer_sweep_seconds (${sweepMs / 1000}), or live uploads would be taken for stalled ones`,
      );
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
        sizeCapBytes: v['image.size_cap_bytes'] ?? d.sizeCapBytes,
        importsPerProject: v['image.imports_per_project'] ?? d.importsPerProject,
        importMemoryBytes:
          (v['image.import_memory_mib'] ?? d.importMemoryBytes / 1024 / 1024) * 1024 * 1024,
        importCpuSeconds: v['image.import_cpu_seconds'] ?? d.importCpuSeconds,
        importTimeoutMs: (v['image.import_timeout_seconds'] ?? d.importTimeoutMs / 1000) * 1000,
        transferSweepMs: sweepMs,
        transferStalledMs: stalledMs,
      },
    };
  },
});
