// The one way Nubes runs a host command: an argument array (never a shell string), a time limit,
// output captured up to a bound, and a failure that names the command and what it printed.
import { spawn } from 'node:child_process';
import { NubesError } from '../platform/errors.ts';

export interface ExecOptions {
  /** Milliseconds before the command is killed (SIGKILL). Default 60 s. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Bytes written to the command's standard input, then closed. */
  readonly input?: string | Uint8Array;
  /** Called with each chunk of output as it arrives (progress reports). */
  readonly onStdout?: (chunk: string) => void;
  readonly onStderr?: (chunk: string) => void;
  /** Aborting it kills the command (SIGKILL) and rejects with CommandAborted. */
  readonly signal?: AbortSignal;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_CAPTURE = 8 * 1024 * 1024;

/** A host command that could not run or exited non-zero. */
export class HostCommandFailed extends NubesError {
  constructor(command: readonly string[], detail: string, fields: Record<string, unknown> = {}) {
    super('host_command_failed', 500, `${command[0]} failed: ${detail}`, {
      command: command.join(' '),
      ...fields,
    });
    this.name = 'HostCommandFailed';
  }
}

/** A command stopped because its caller aborted it (the work was cancelled, not failed). */
export class CommandAborted extends NubesError {
  constructor(command: readonly string[]) {
    super('host_command_aborted', 500, `${command[0]} was stopped: its work was cancelled`, {
      command: command.join(' '),
    });
    this.name = 'CommandAborted';
  }
}

export function exec(command: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = command;
  if (!file) throw new Error('exec: empty command');
  if (opts.signal?.aborted) return Promise.reject(new CommandAborted(command));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ? { ...opts.env } : process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (b: Buffer) => {
      if (outLen < MAX_CAPTURE) {
        out.push(b);
        outLen += b.length;
      }
      opts.onStdout?.(b.toString('utf8'));
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (errLen < MAX_CAPTURE) {
        err.push(b);
        errLen += b.length;
      }
      opts.onStderr?.(b.toString('utf8'));
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    let aborted = false;
    const abort = () => {
      aborted = true;
      child.kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    const settled = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abort);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      settled();
      const hint =
        e.code === 'ENOENT'
          ? `${file} is not installed (see README: the first command installs it)`
          : e.message;
      reject(new HostCommandFailed(command, hint));
    });
    child.on('close', (code, signal) => {
      settled();
      if (aborted) return reject(new CommandAborted(command));
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve({ stdout, stderr });
      const why = signal
        ? `killed by ${signal}${signal === 'SIGKILL' ? ' (time limit)' : ''}`
        : `exit ${code}`;
      reject(
        new HostCommandFailed(
          command,
          `${why}: ${stderr.trim().split('\n').slice(-3).join(' / ') || stdout.trim().slice(-300)}`,
          { exitCode: code, signal, stderr },
        ),
      );
    });
  });
}

/** True when `command` can be found on PATH (or is an executable path). */
export async function haveCommand(command: string): Promise<boolean> {
  try {
    await exec(['sh', '-c', 'command -v "$1"', 'sh', command], { timeoutMs: 5000 });
    return true;
  } catch {
    return false;
  }
}
