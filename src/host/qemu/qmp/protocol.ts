// QMP's wire protocol, with no I/O of its own: newline-delimited JSON in, messages out. The
// greeting, command replies (matched to their command by `id`) and asynchronous events are told
// apart here; monitor.ts owns the socket.

export interface QmpGreeting {
  readonly QMP: {
    readonly version: {
      readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number };
    };
    readonly capabilities: readonly string[];
  };
}
export interface QmpReturn {
  readonly return: unknown;
  readonly id?: string | number;
}
export interface QmpErrorReply {
  readonly error: { readonly class: string; readonly desc: string };
  readonly id?: string | number;
}
export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
  readonly timestamp: { readonly seconds: number; readonly microseconds: number };
}

export type QmpMessage =
  | { readonly kind: 'greeting'; readonly greeting: QmpGreeting }
  | { readonly kind: 'return'; readonly id: string | number | undefined; readonly value: unknown }
  | {
      readonly kind: 'error';
      readonly id: string | number | undefined;
      readonly errorClass: string;
      readonly desc: string;
    }
  | { readonly kind: 'event'; readonly event: QmpEvent };

/** One command as QMP wants it, with the id its reply will carry. */
export function encodeCommand(
  execute: string,
  args: Record<string, unknown> | undefined,
  id: number,
): string {
  return `${JSON.stringify(args === undefined ? { execute, id } : { execute, arguments: args, id })}\n`;
}

/** A JSON object from QEMU, classified; throws on anything QMP never sends. */
export function classify(line: string): QmpMessage {
  const m = JSON.parse(line) as Record<string, unknown>;
  if ('QMP' in m) return { kind: 'greeting', greeting: m as unknown as QmpGreeting };
  if ('return' in m)
    return { kind: 'return', id: (m as unknown as QmpReturn).id, value: m['return'] };
  if ('error' in m) {
    const e = m as unknown as QmpErrorReply;
    return { kind: 'error', id: e.id, errorClass: e.error.class, desc: e.error.desc };
  }
  if ('event' in m) return { kind: 'event', event: m as unknown as QmpEvent };
  throw new Error(`not a QMP message: ${line.slice(0, 200)}`);
}

/** Splits a byte stream into complete lines; keeps the unfinished tail for the next chunk. */
export class LineSplitter {
  #tail = '';
  push(chunk: string): string[] {
    const parts = (this.#tail + chunk).split('\n');
    this.#tail = parts.pop() ?? '';
    return parts.map((p) => p.trim()).filter((p) => p !== '');
  }
}
