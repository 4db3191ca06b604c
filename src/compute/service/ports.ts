// What compute needs of the other services, as typed seams wired in src/cli (services call each
// other in-process through these, never over HTTP). Images now; networks and volumes plug in here.
import type { AuthContext } from '../../platform/auth/context.ts';

/** An image as a boot needs it. */
export interface BootImage {
  readonly id: string;
  readonly name: string | null;
  readonly status: string;
  readonly diskFormat: string | null;
  readonly containerFormat: string | null;
  readonly minDiskGb: number;
  readonly minRamMb: number;
  readonly size: number | null;
  readonly virtualSize: number | null;
  readonly checksum: string | null;
  readonly properties: Readonly<Record<string, string>>;
}

export interface ImagePort {
  /** The image if the caller may see it. */
  find(ctx: AuthContext, id: string): Promise<BootImage | undefined>;
  /** The image whoever asks (a build already checked the caller could use it). */
  describe(id: string): Promise<BootImage | undefined>;
  /** A queued image record, owned by the caller's project, that a snapshot's data will fill. */
  createSnapshot(
    ctx: AuthContext,
    s: { name: string; properties: Readonly<Record<string, string>> },
  ): Promise<string>;
  /** Deletes an image compute made itself (a shelved disk once unshelved): no caller, so no policy. */
  removeOwn(id: string): Promise<void>;
}

/**
 * Image bytes for agents in other processes, which reach the cloud only over the bus: read in
 * ranges, and snapshots written as numbered chunks into a staging file, then stored as the image.
 * Every api replica must reach the same image store and staging directory (see scale-out.md).
 */
export interface ImageDataPort {
  read(imageId: string, offset: number, length: number): Promise<{ data: Buffer; eof: boolean }>;
  writeChunk(uploadId: string, offset: number, data: Buffer): Promise<void>;
  finish(uploadId: string, imageId: string, diskFormat: string): Promise<void>;
}
