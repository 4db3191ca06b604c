// qemu-img, the only tool that reads disk image formats for us: `info` on data we have already
// checked (image/service/format-inspector.ts) and `convert` for import conversion. Untrusted
// images are read under prlimit (memory, CPU time and output size bounds), as Nova does, and never
// probed: the format is always given with -f. What qemu-img says names host files; its words
// reach users only with those paths replaced (hidePaths).
import { CommandAborted, exec, HostCommandFailed } from './exec.ts';
import { NubesError } from '../platform/errors.ts';
import { hidePaths } from '../platform/hide-paths.ts';

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

/** What a failed qemu-img said (its last lines), with `known` paths hidden, for a user. */
function lastWords(e: unknown, known: Readonly<Record<string, string>>): string {
  const stderr =
    e instanceof HostCommandFailed && typeof e.fields['stderr'] === 'string'
      ? e.fields['stderr']
      : '';
  const words = stderr.trim().split('\n').slice(-3).join(' / ') || (e as Error).message;
  return hidePaths(words.replace(/^qemu-img: /, ''), known).slice(0, 300);
}

/**
 * Reads an untrusted image's header; a failure says what qemu-img said, with `path` shown as "the
 * image" (the host's paths never reach a user).
 */
export async function qemuImgInfo(path: string, format: string): Promise<QemuImgInfo> {
  let stdout: string;
  try {
    ({ stdout } = await exec([...LIMITS, 'qemu-img', 'info', '-f', format, '--output=json', path], {
      timeoutMs: 60_000,
    }));
  } catch (e) {
    throw new NubesError('host_command_failed', 500, lastWords(e, { [path]: 'the image' }), {
      detail: (e as Error).message,
    });
  }
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

/** Bounds on one conversion of untrusted data (the import's settings). */
export interface ConvertLimits {
  /** Address space of qemu-img, in bytes. */
  readonly memoryBytes: number;
  readonly cpuSeconds: number;
  /** The largest output file, in bytes: past it qemu-img's writes fail and so does the convert. */
  readonly outputBytes: number;
  readonly timeoutMs: number;
}

export interface ConvertOptions {
  /** Read a disk a running QEMU holds open (-U; its guest paused for a consistent copy). */
  readonly forceShare?: boolean;
  /** Run under prlimit with these bounds (untrusted data); without, 6 h and no other bound. */
  readonly limits?: ConvertLimits;
  /** Aborting it kills qemu-img; the convert then rejects with CommandAborted. */
  readonly signal?: AbortSignal;
}

/**
 * Converts `src` (of qemu format `srcFormat`) to `dst` in `dstFormat`. `onProgress` gets whole
 * percents as qemu-img reports them. Fails with `image_conversion_too_large` past the output
 * bound, `image_conversion_limit` past the CPU time or time limit, `image_conversion_failed`
 * otherwise (qemu-img's words, paths hidden), or CommandAborted when `signal` aborted it.
 */
export async function qemuImgConvert(
  src: string,
  srcFormat: string,
  dst: string,
  dstFormat: string,
  onProgress?: (percent: number) => void,
  opts: ConvertOptions = {},
): Promise<void> {
  let last = -1;
  const l = opts.limits;
  const bounds = l
    ? [
        'prlimit',
        `--as=${l.memoryBytes}`,
        `--cpu=${l.cpuSeconds}`,
        `--fsize=${Math.max(l.outputBytes, 1)}`,
        '--core=0',
        '--',
      ]
    : [];
  const timeoutMs = l?.timeoutMs ?? 6 * 3600_000;
  const started = Date.now();
  try {
    await exec(
      [
        ...bounds,
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
        timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
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
    if (e instanceof CommandAborted) throw e;
    const detail = { detail: (e as Error).message };
    const f = e instanceof HostCommandFailed ? e.fields : {};
    const stderr = typeof f['stderr'] === 'string' ? f['stderr'] : '';
    if (l && (f['signal'] === 'SIGXFSZ' || /File too large/.test(stderr)))
      throw new NubesError(
        'image_conversion_too_large',
        413,
        `The converted image would be larger than the ${l.outputBytes} bytes it may take (the project's image storage quota or the cloud's image size cap); import a smaller image, delete images, or ask an operator to raise the quota.`,
        detail,
      );
    if (l && (f['signal'] === 'SIGKILL' || f['signal'] === 'SIGXCPU')) {
      const timedOut = Date.now() - started >= timeoutMs;
      throw new NubesError(
        'image_conversion_limit',
        500,
        `The conversion was stopped after ${timedOut ? `${Math.round(timeoutMs / 1000)} s, its time limit` : `${l.cpuSeconds} s of CPU time, its limit`}: the image may claim a far larger disk than its data holds (check it with qemu-img info); convert it before uploading, or ask an operator to raise the import limits.`,
        detail,
      );
    }
    throw new NubesError(
      'image_conversion_failed',
      500,
      `qemu-img could not convert the image from ${srcFormat} to ${dstFormat}: ${lastWords(e, { [src]: 'the image', [dst]: 'the output' })}`,
      detail,
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
