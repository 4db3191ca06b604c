// Checking what QEMU answers before the driver trusts it: the typed commands (commands.ts and its
// topic files) read only replies these checks have passed, so a QEMU that answers in a shape we
// do not know fails with its command named, not with an undefined read somewhere later.
import { NubesError } from '../../../platform/errors.ts';

/** QEMU answered a command in a shape the driver does not know (a QEMU too old or too new). */
export class QmpUnexpectedReply extends NubesError {
  constructor(command: string, what: string, reply: unknown) {
    super(
      'qmp_unexpected_reply',
      500,
      `QEMU answered ${command} with ${what} expected: ${JSON.stringify(reply)?.slice(0, 200)}`,
      { command },
    );
    this.name = 'QmpUnexpectedReply';
  }
}

export type Json = Readonly<Record<string, unknown>>;

export const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The reply as an object, or QmpUnexpectedReply. */
export function object(command: string, v: unknown): Json {
  if (!isObject(v)) throw new QmpUnexpectedReply(command, 'no object where one was', v);
  return v;
}

/** The reply as a list of objects, or QmpUnexpectedReply. */
export function objects(command: string, v: unknown): Json[] {
  if (!Array.isArray(v) || !v.every(isObject))
    throw new QmpUnexpectedReply(command, 'no list of objects where one was', v);
  return v;
}

/** `o[key]` as a string (absent: `undefined` when `optional`), or QmpUnexpectedReply. */
export function str(command: string, o: Json, key: string): string;
export function str(command: string, o: Json, key: string, optional: true): string | undefined;
export function str(command: string, o: Json, key: string, optional = false): string | undefined {
  const v = o[key];
  if (typeof v === 'string' || (optional && v === undefined)) return v;
  throw new QmpUnexpectedReply(command, `no string "${key}" where one was`, o);
}

/** `o[key]` as a number (absent: `undefined` when `optional`), or QmpUnexpectedReply. */
export function num(command: string, o: Json, key: string): number;
export function num(command: string, o: Json, key: string, optional: true): number | undefined;
export function num(command: string, o: Json, key: string, optional = false): number | undefined {
  const v = o[key];
  if (typeof v === 'number' || (optional && v === undefined)) return v;
  throw new QmpUnexpectedReply(command, `no number "${key}" where one was`, o);
}

/** `o[key]` as a boolean, or QmpUnexpectedReply. */
export function bool(command: string, o: Json, key: string): boolean {
  const v = o[key];
  if (typeof v === 'boolean') return v;
  throw new QmpUnexpectedReply(command, `no boolean "${key}" where one was`, o);
}
