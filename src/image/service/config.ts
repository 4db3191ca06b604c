// The image service's settings, as src/cli/config.ts loads them (Glance's names in comments).
export interface ImageConfig {
  /** Bytes of image data one project may store, uploads and staged data included; 0: unlimited (user_storage_quota). */
  readonly storageQuotaBytes: number;
  /** Images one project may own; 0: unlimited (image_count_total). */
  readonly imageCountQuota: number;
  /** Members per image (image_member_quota, default 128). */
  readonly memberQuota: number;
  /** Tags per image (image_tag_quota, default 128). */
  readonly tagQuota: number;
  /** Extra properties per image (image_property_quota, default 128). */
  readonly propertyQuota: number;
  /** Disk format imported images are converted to (image_conversion output_format); null: keep the uploaded format. */
  readonly importConversionFormat: 'qcow2' | 'raw' | null;
  /** Largest image in bytes: uploaded data, and an imported disk's virtual size (image_size_cap). */
  readonly sizeCapBytes: number;
  /** Imports one project may run at once (each may convert with qemu-img). */
  readonly importsPerProject: number;
  /** Bounds of one import conversion: qemu-img's address space, CPU time and wall time. */
  readonly importMemoryBytes: number;
  readonly importCpuSeconds: number;
  readonly importTimeoutMs: number;
  /** How often each api process beats for its transfers and sweeps for stalled ones. */
  readonly transferSweepMs: number;
  /** A transfer with no progress and no beat of its process for this long is recovered. */
  readonly transferStalledMs: number;
}

export const DEFAULT_IMAGE_CONFIG: ImageConfig = {
  storageQuotaBytes: 0,
  imageCountQuota: 0,
  memberQuota: 128,
  tagQuota: 128,
  propertyQuota: 128,
  importConversionFormat: 'qcow2',
  sizeCapBytes: 1024 ** 4,
  importsPerProject: 2,
  importMemoryBytes: 2048 * 1024 * 1024,
  importCpuSeconds: 3600,
  importTimeoutMs: 7200_000,
  transferSweepMs: 60_000,
  transferStalledMs: 300_000,
};
