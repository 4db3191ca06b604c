// Image's tables as Kysely types: what image's store modules may name, and its part of the whole
// database the composition root assembles (src/cli/tables.ts). Conventions as in
// platform/db/schema.ts: 0/1 flags, epoch-millisecond times, JSON text extras.
import type { Executor } from '../../platform/db/store-helpers.ts';

export interface ImageTables {
  images: ImageTable;
  image_properties: ImagePropertyTable;
  image_tags: ImageTagTable;
  image_members: ImageMemberTable;
  image_tasks: ImageTaskTable;
}

/** What every image store function takes: the database or a transaction, naming only image's tables. */
export type ImageExecutor = Executor<ImageTables>;

export interface ImageTable {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: number;
  os_hidden: number;
  owner: string | null;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  location: string | null;
  stage_key: string | null;
  pending_bytes: number;
  /** The transfer moving this image's bytes (process and transfer), null when none runs. */
  transfer_owner: string | null;
  /** When that transfer's process last said it lives (epoch ms). */
  transfer_heartbeat: number | null;
  /** The project's import slot this image holds while importing (unique per owner). */
  import_slot: number | null;
  created_at: number;
  updated_at: number;
}
export interface ImagePropertyTable {
  image_id: string;
  name: string;
  value: string;
}
export interface ImageTagTable {
  image_id: string;
  tag: string;
}
export interface ImageMemberTable {
  image_id: string;
  member_id: string;
  status: string;
  created_at: number;
  updated_at: number;
}
export interface ImageTaskTable {
  id: string;
  type: string;
  status: string;
  owner: string;
  image_id: string | null;
  input: string;
  result: string | null;
  message: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
}
