// What `nubes doctor` reports about one capability of this host, and the guard every probe runs
// under: a time limit, and no exception ever escapes (a failing probe is a 'no' carrying its error).
import { HostCommandFailed, haveCommand } from '../exec.ts';

export type CheckStatus = 'ok' | 'no' | 'warn';

export interface Check {
  /** Short and stable: 'qemu', 'vlan', 'data dir'. */
  readonly name: string;
  /** ok: works; warn: works in a lesser way (TCG, few GiB free); no: does not work here. */
  readonly status: CheckStatus;
  /** One line: what was measured, or the host's own error text. */
  readonly detail: string;
  /** What the operator can do about a warn or no (a package to install, a module to load). */
  readonly fix?: string;
  /** A 'no' here means the cloud cannot run on this host at all. */
  readonly essential: boolean;
}

export function check(
  name: string,
  status: CheckStatus,
  detail: string,
  opts: { fix?: string | undefined; essential?: boolean } = {},
): Check {
  return {
    name,
    status,
    detail,
    ...(opts.fix ? { fix: opts.fix } : {}),
    essential: opts.essential ?? false,
  };
}

/**
 * Runs a probe that reports the checks `names` within `limitMs`. A throw or a timeout becomes a
 * 'no' for each of those names; the probe's own work may go on (its cleanup included) in the
 * background, which is why probes bound each command with exec's own time limit as well.
 */
export async function guard(
  names: readonly string[],
  limitMs: number,
  run: () => Promise<readonly Check[]>,
  opts: { essential?: boolean } = {},
): Promise<Check[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), limitMs);
  });
  const failed = (detail: string) =>
    names.map((n) => check(n, 'no', detail, { essential: opts.essential ?? false }));
  try {
    const got = await Promise.race([run(), timeout]);
    return got === 'timeout'
      ? failed(`the probe did not finish within ${limitMs / 1000} s`)
      : [...got];
  } catch (e) {
    return failed(`the probe failed: ${oneLine(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** An error as one line: a host command's own stderr when it printed some, else the message. */
export function oneLine(e: unknown): string {
  if (
    e instanceof HostCommandFailed &&
    typeof e.fields['stderr'] === 'string' &&
    e.fields['stderr'].trim()
  ) {
    return e.fields['stderr']
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' / ');
  }
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** Whether a failed command failed because it is not installed (as opposed to running and failing). */
export async function isMissing(command: string, e: unknown): Promise<boolean> {
  if (e instanceof HostCommandFailed && e.fields['exitCode'] !== undefined) return false;
  return !(await haveCommand(command));
}

/** The version in a banner: the number after "version", else the first "x.y[.z]". */
export function parseVersion(text: string): string | null {
  return (
    /\bversion\s+v?(\d+\.\d+(?:\.\d+)?)/i.exec(text)?.[1] ??
    /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ??
    null
  );
}
