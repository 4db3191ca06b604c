// The image service's domain types (camelCase), shared by its store, service and views.
import { IMAGE_STATUSES, type ImageStatus } from './states.ts';

/** Every image status, for schemas and validation. */
export const IMAGE_STATUS_LIST: readonly ImageStatus[] = IMAGE_STATUSES;

export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export const DISK_FORMATS = [
  'ami',
  'ari',
  'aki',
  'vhd',
  'vhdx',
  'vmdk',
  'raw',
  'qcow2',
  'vdi',
  'iso',
  'ploop',
] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export const CONTAINER_FORMATS = [
  'ami',
  'ari',
  'aki',
  'bare',
  'ovf',
  'ova',
  'docker',
  'compressed',
] as const;
export type ContainerFormat = (typeof CONTAINER_FORMATS)[number];

export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export interface Image {
  readonly id: string;
  readonly name: string | null;
  readonly status: ImageStatus;
  readonly visibility: Visibility;
  readonly protected: boolean;
  readonly osHidden: boolean;
  readonly owner: string | null;
  readonly diskFormat: string | null;
  readonly containerFormat: string | null;
  readonly minDisk: number;
  readonly minRam: number;
  readonly size: number | null;
  readonly virtualSize: number | null;
  readonly checksum: string | null;
  readonly osHashAlgo: string | null;
  readonly osHashValue: string | null;
  /** The store's key for the data; internal. */
  readonly location: string | null;
  /** The staging store's key for data awaiting import; internal. */
  readonly stageKey: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly tags: readonly string[];
  /** Extra properties, all string-valued as in Glance's schema. */
  readonly properties: Readonly<Record<string, string>>;
}

/** The columns a user may set on create or by patch (besides extra properties and tags). */
export interface ImageCore {
  name: string | null;
  visibility: Visibility;
  protected: boolean;
  osHidden: boolean;
  diskFormat: string | null;
  containerFormat: string | null;
  minDisk: number;
  minRam: number;
}

export interface ImageMember {
  readonly imageId: string;
  readonly memberId: string;
  readonly status: MemberStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const TASK_STATUSES = ['pending', 'processing', 'success', 'failure'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface ImageTask {
  readonly id: string;
  readonly type: string;
  readonly status: TaskStatus;
  readonly owner: string;
  readonly imageId: string | null;
  readonly input: Readonly<Record<string, unknown>>;
  readonly result: Readonly<Record<string, unknown>> | null;
  readonly message: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly expiresAt: number | null;
}

// --- listing: what GET /v2/images may ask for, as the service and store understand it

export const SORT_KEYS = [
  'created_at',
  'updated_at',
  'id',
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'virtual_size',
  'min_disk',
  'min_ram',
  'owner',
  'visibility',
  'protected',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface SortSpec {
  readonly key: SortKey;
  readonly dir: 'asc' | 'desc';
}

export type Comparison = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte';
export interface TimeFilter {
  readonly op: Comparison;
  readonly at: number;
}

export interface ImageQuery {
  /** The caller: whose images count as "own", and whether visibility rules apply at all. */
  readonly viewer: { readonly projectId: string | null; readonly isAdmin: boolean };
  readonly visibility?: Visibility | 'all';
  readonly memberStatus?: MemberStatus | 'all';
  readonly names?: readonly string[];
  readonly ids?: readonly string[];
  readonly owners?: readonly string[];
  readonly statuses?: readonly string[];
  readonly diskFormats?: readonly string[];
  readonly containerFormats?: readonly string[];
  readonly tags?: readonly string[];
  readonly properties?: Readonly<Record<string, string>>;
  readonly sizeMin?: number;
  readonly sizeMax?: number;
  readonly protected?: boolean;
  /** undefined: hidden images are left out (Glance's default); true/false: only those. */
  readonly osHidden?: boolean;
  readonly createdAt?: readonly TimeFilter[];
  readonly updatedAt?: readonly TimeFilter[];
  readonly sort: readonly SortSpec[];
  readonly limit: number;
  readonly marker?: Image;
}
