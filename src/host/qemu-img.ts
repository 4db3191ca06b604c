// qemu-img, the only tool that reads disk image formats for us: `info` on data we have already
// checked (image/service/format-inspector.ts) and `convert` for import conversion. Untrusted
// images are read under prlimit (memory and CPU bounds), as Nova does, and never probed: the
// format is always given with -f.
import { exec } from './exec.ts';
import { NubesError } from '../platform/errors.ts';

/** The parts of `qemu-img info --output=json` we use. */
export interface QemuImgInfo {
  readonly format: string;
  readonly virtualSize: number;
  readonly actualSize: number | null;
  readonly backingFile: string | null;
  readonly dataFile: string | null;
  readonly dirty: boolean;
}

// Bounds for reading one untrusted header: 1 GiB of address space and 30 s of CPU (Nova's values).
const LIMITS = ['prlimit', '--as=1073741824', '--cpu=30', '--'];

/** Maps Glance's disk_format names to qemu's driver names. */
export function qemuFormat(diskFormat: string): string {
  switch (diskFormat) {
    case 'vhd':
      return 'vpc';
    case 'iso':
    case 'aki':
    case 'ari':
    case 'ami':
      return 'raw';
    default:
      return diskFormat;
  }
}

export async function qemuImgInfo(path: string, format: string): Promise<QemuImgInfo> {
  const { stdout } = await exec(
    [...LIMITS, 'qemu-img', 'info', '-f', format, '--output=json', path],
    { timeoutMs: 60_000 },
  );
  const j = JSON.parse(stdout) as Record<string, unknown>;
  const specific =
    (j['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  return {
    format: String(j['format']),
    virtualSize: Number(j['virtual-size']),
    actualSize: typeof j['actual-size'] === 'number' ? j['actual-size'] : null,
    backingFile: typeof j['backing-filename'] === 'string' ? j['backing-filename'] : null,
    dataFile: typeof specific['data-file'] === 'string' ? specific['data-file'] : null,
    dirty: j['dirty-flag'] === true,
  };
}

/**
 * Converts `src` (of qemu format `srcFormat`) to `dst` in `dstFormat`. `onProgress` gets whole
 * percents as qemu-img reports them. Fails with `image_conversion_failed` and qemu-img's words.
 */
export async function qemuImgConvert(
  src: string,
  srcFormat: string,
  dst: string,
  dstFormat: string,
  onProgress?: (percent: number) => void,
  opts: { forceShare?: boolean } = {},
): Promise<void> {
  let last = -1;
  try {
    // forceShare (-U): read a disk a running QEMU holds open (its guest paused for a consistent copy).
    await exec(
      [
        'qemu-img',
        'convert',
        '-p',
        ...(opts.forceShare ? ['-U'] : []),
        '-f',
        srcFormat,
        '-O',
        dstFormat,
        src,
        dst,
      ],
      {
        timeoutMs: 6 * 3600_000,
        onStdout: (chunk) => {
          for (const m of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) {
            const pct = Math.floor(Number(m[1]));
            if (pct !== last) {
              last = pct;
              onProgress?.(pct);
            }
          }
        },
      },
    );
  } catch (e) {
    throw new NubesError(
      'image_conversion_failed',
      500,
      `qemu-img could not convert the image from ${srcFormat} to ${dstFormat}: ${(e as Error).message}`,
    );
  }
}

/** Makes an empty image (tests and tools); `backing` makes an overlay on another file. */
export async function qemuImgCreate(
  path: string,
  format: string,
  sizeBytes: number,
  opts: { backing?: string; backingFormat?: string; dataFile?: string } = {},
): Promise<void> {
  const o: string[] = [];
  if (opts.dataFile) o.push('-o', `data_file=${opts.dataFile}`);
  const b = opts.backing ? ['-b', opts.backing, '-F', opts.backingFormat ?? 'raw'] : [];
  await exec(['qemu-img', 'create', '-q', '-f', format, ...b, ...o, path, String(sizeBytes)]);
}

/** Grows an image to `sizeBytes` (never shrinks: a smaller size is refused by the caller's check). */
export async function qemuImgResize(
  path: string,
  format: string,
  sizeBytes: number,
): Promise<void> {
  await exec(['qemu-img', 'resize', '-q', '-f', format, path, String(sizeBytes)]);
}
