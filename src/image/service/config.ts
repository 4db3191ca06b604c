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
}

export const DEFAULT_IMAGE_CONFIG: ImageConfig = {
  storageQuotaBytes: 0,
  imageCountQuota: 0,
  memberQuota: 128,
  tagQuota: 128,
  propertyQuota: 128,
  importConversionFormat: 'qcow2',
};
