// Decides whether uploaded data may become an image: its real format must be the claimed one, it
// must not reference anything outside itself (format-inspector.ts), and qemu-img must read it. Also
// converts imported data, within bounds. The only bridge from the image service to qemu-img
// (src/host); what it throws names no host path.
import { stat } from 'node:fs/promises';
import { NubesError } from '../../platform/errors.ts';
import {
  qemuFormat,
  qemuImgConvert,
  qemuImgInfo,
  type ConvertLimits,
} from '../../host/qemu-img.ts';
import { formatMatches, inspectImageFile } from './format-inspector.ts';

export type { ConvertLimits } from '../../host/qemu-img.ts';

/** Glance's InvalidImageData: the upload is refused with 415 and the image stays queued. */
const invalidData = (message: string, code: string) => new NubesError(code, 415, message);

export interface DiskFacts {
  /** Size of the disk the guest sees, or null for data that is not a disk (kernels, ramdisks). */
  readonly virtualSize: number | null;
}

export interface DiskInspector {
  /** Checks the data at `path` against the claimed disk format; throws a 415 (image_*) when refused. */
  inspect(path: string, diskFormat: string): Promise<DiskFacts>;
  /** Whether data of this disk format can be converted. */
  convertible(diskFormat: string): boolean;
  /**
   * Converts untrusted data within `limits`; aborting `signal` kills the conversion (the caller
   * removes `dst`). Failures name no host path.
   */
  convert(
    src: string,
    diskFormat: string,
    dst: string,
    target: string,
    onProgress: (percent: number) => void,
    opts: { readonly limits: ConvertLimits; readonly signal?: AbortSignal },
  ): Promise<void>;
}

// Formats qemu-img reads and writes for us; ISO, kernels and ramdisks are kept as they are.
const QEMU_DISKS = new Set(['qcow2', 'raw', 'vmdk', 'vhd', 'vhdx', 'vdi']);

export function createDiskInspector(): DiskInspector {
  return {
    async inspect(path, diskFormat) {
      const found = await inspectImageFile(path);
      if (found.unsafe)
        throw invalidData(
          `Image rejected: ${found.unsafe}. Such images can make the hypervisor read files of the host; upload a self-contained image (qemu-img convert -O ${diskFormat === 'vmdk' ? 'vmdk -o subformat=streamOptimized' : diskFormat} in out).`,
          'image_unsafe',
        );
      if (!formatMatches(diskFormat, found.format)) {
        throw invalidData(
          `Image rejected: the data is ${found.format}, but disk_format is ${diskFormat}. Create the image with --disk-format ${found.format === 'iso' ? 'iso' : found.format} or upload ${diskFormat} data.`,
          'image_format_mismatch',
        );
      }
      if (!QEMU_DISKS.has(diskFormat) && diskFormat !== 'iso') return { virtualSize: null };
      let info;
      try {
        info = await qemuImgInfo(path, qemuFormat(diskFormat));
      } catch (e) {
        // qemu-img's words with the host's paths hidden (qemu-img.ts): the user may see them.
        throw invalidData(
          `Image rejected: qemu-img cannot read it as ${diskFormat} (${(e as Error).message}).`,
          'image_unreadable',
        );
      }
      // Belt and braces: qemu must agree that nothing outside the file is referenced.
      if (info.backingFile)
        throw invalidData('Image rejected: the image names a backing file.', 'image_unsafe');
      if (info.dataFile)
        throw invalidData('Image rejected: the image uses an external data file.', 'image_unsafe');
      // qemu rounds raw files up to whole sectors; the guest sees exactly the bytes uploaded.
      if (qemuFormat(diskFormat) === 'raw') return { virtualSize: (await stat(path)).size };
      return { virtualSize: info.virtualSize };
    },
    convertible: (diskFormat) => QEMU_DISKS.has(diskFormat),
    convert: (src, diskFormat, dst, target, onProgress, opts) =>
      qemuImgConvert(src, qemuFormat(diskFormat), dst, target, onProgress, opts),
  };
}
