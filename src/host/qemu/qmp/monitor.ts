// A QMP monitor connection to one QEMU process: connects to its UNIX socket (waiting for QEMU to
// create it), negotiates capabilities, runs commands one reply per id with a timeout, hands events
// to subscribers, and says when QEMU goes away. Every command and event goes to the VM's own log.
import { setTimeout as sleep } from 'node:timers/promises';
import { NubesError } from '../../../platform/errors.ts';
import { connectWhenListening } from '../socket.ts';
import {
  classify,
  encodeCommand,
  LineSplitter,
  type QmpEvent,
  type QmpGreeting,
} from './protocol.ts';

/** QEMU answered a command with an error (its class and description). */
export class QmpCommandError extends NubesError {
  readonly errorClass: string;
  constructor(command: string, errorClass: string, desc: string) {
    super('qmp_command_failed', 500, `QEMU refused ${command}: ${desc} (${errorClass})`, {
      command,
      errorClass,
    });
    this.name = 'QmpCommandError';
    this.errorClass = errorClass;
  }
}

/** The monitor connection is gone (QEMU exited or closed it), or never came up. */
export class QmpDisconnected extends NubesError {
  constructor(message: string) {
    super('qmp_disconnected', 503, message);
    this.name = 'QmpDisconnected';
  }
}

export interface QmpMonitorOptions {
  /** How long to wait for QEMU to create and accept on its socket (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Default time a command may take (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** One line per command, reply and event, for the VM's own log. */
  readonly log?: (line: string) => void;
}

export interface QmpMonitor {
  readonly version: { readonly major: number; readonly minor: number; readonly micro: number };
  /** Runs a command; resolves with its `return` value, rejects with QmpCommandError or QmpDisconnected. */
  run<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    opts?: { timeoutMs?: number },
  ): Promise<T>;
  /** Calls `handler` for every event (or only `name`); returns the unsubscribe function. */
  on(handler: (e: QmpEvent) => void, name?: string): () => void;
  /** Resolves with the next event called `name` (rejects after `timeoutMs`, or on disconnect). */
  next(name: string, timeoutMs: number): Promise<QmpEvent>;
  /** Resolves when the connection ends, for whatever reason. */
  readonly closed: Promise<void>;
  close(): void;
}

export async function connectQmp(
  socketPath: string,
  opts: QmpMonitorOptions = {},
): Promise<QmpMonitor> {
  const log = opts.log ?? (() => {});
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 10_000);
  const socket = await connectWhenListening(socketPath, opts.connectTimeoutMs ?? 10_000).catch(
    (e: unknown) => {
      throw new QmpDisconnected(
        `cannot reach QEMU's monitor at ${socketPath}: ${(e as Error).message}`,
      );
    },
  );
  socket.setEncoding('utf8');
  const split = new LineSplitter();
  const waiting = new Map<
    number,
    { command: string; ok: (v: unknown) => void; fail: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  const handlers = new Set<{ fn: (e: QmpEvent) => void; name: string | undefined }>();
  let nextId = 1;
  let greeting: (g: QmpGreeting) => void;
  const greeted = new Promise<QmpGreeting>((ok) => {
    greeting = ok;
  });
  let gone = false;
  let markClosed!: () => void;
  const closed = new Promise<void>((ok) => {
    markClosed = ok;
  });

  const disconnect = (why: string) => {
    if (gone) return;
    gone = true;
    for (const [, w] of waiting) {
      clearTimeout(w.timer);
      w.fail(new QmpDisconnected(`QEMU's monitor closed during ${w.command}: ${why}`));
    }
    waiting.clear();
    log(`qmp: disconnected (${why})`);
    markClosed();
  };

  socket.on('data', (chunk: string) => {
    for (const line of split.push(chunk)) {
      let m;
      try {
        m = classify(line);
      } catch (e) {
        log(`qmp: ${(e as Error).message}`);
        continue;
      }
      if (m.kind === 'greeting') {
        greeting(m.greeting);
        continue;
      }
      if (m.kind === 'event') {
        log(`qmp event ${m.event.event} ${JSON.stringify(m.event.data ?? {})}`);
        for (const h of [...handlers])
          if (h.name === undefined || h.name === m.event.event) h.fn(m.event);
        continue;
      }
      const w = typeof m.id === 'number' ? waiting.get(m.id) : undefined;
      if (!w) continue;
      waiting.delete(m.id as number);
      clearTimeout(w.timer);
      if (m.kind === 'return') {
        log(`qmp ${w.command} -> ok`);
        w.ok(m.value);
      } else {
        log(`qmp ${w.command} -> ${m.errorClass}: ${m.desc}`);
        w.fail(new QmpCommandError(w.command, m.errorClass, m.desc));
      }
    }
  });
  socket.on('close', () => disconnect('socket closed'));
  socket.on('error', (e) => disconnect(e.message));

  const run = <T>(
    command: string,
    args?: Record<string, unknown>,
    o: { timeoutMs?: number } = {},
  ): Promise<T> => {
    if (gone)
      return Promise.reject(new QmpDisconnected(`QEMU's monitor is closed; cannot run ${command}`));
    const id = nextId++;
    return new Promise<T>((ok, fail) => {
      const ms = o.timeoutMs ?? opts.commandTimeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        waiting.delete(id);
        fail(new QmpDisconnected(`QEMU did not answer ${command} within ${ms} ms`));
      }, ms);
      waiting.set(id, { command, ok: ok as (v: unknown) => void, fail, timer });
      log(`qmp ${command} ${args ? JSON.stringify(args) : ''}`.trimEnd());
      socket.write(encodeCommand(command, args, id));
    });
  };

  const g = await Promise.race([
    greeted,
    closed.then(() => undefined),
    sleep(Math.max(0, deadline - Date.now()) + 1000).then(() => undefined),
  ]);
  if (!g) {
    socket.destroy();
    throw new QmpDisconnected(`QEMU's monitor at ${socketPath} sent no greeting`);
  }
  await run('qmp_capabilities');

  const on = (fn: (e: QmpEvent) => void, name?: string) => {
    const h = { fn, name };
    handlers.add(h);
    return () => {
      handlers.delete(h);
    };
  };
  return {
    version: g.QMP.version.qemu,
    run,
    on,
    next(name, timeoutMs) {
      return new Promise<QmpEvent>((ok, fail) => {
        const off = on((e) => {
          clearTimeout(timer);
          off();
          ok(e);
        }, name);
        const timer = setTimeout(() => {
          off();
          fail(new QmpDisconnected(`no ${name} event from QEMU within ${timeoutMs} ms`));
        }, timeoutMs);
        void closed.then(() => {
          clearTimeout(timer);
          off();
          fail(new QmpDisconnected(`QEMU's monitor closed while waiting for ${name}`));
        });
      });
    },
    closed,
    close() {
      socket.end();
      socket.destroy();
      disconnect('closed by us');
    },
  };
}
