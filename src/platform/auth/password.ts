// Password hashing with Argon2id (Node's crypto), stored as PHC strings. Verification reads the
// parameters from the stored hash, so raising the defaults never locks anyone out.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';

const argon2Async = promisify(argon2);

export interface Argon2Params {
  /** Memory in KiB. */
  readonly memoryKiB: number;
  readonly passes: number;
  readonly parallelism: number;
}

/** RFC 9106's second recommended option (64 MiB, t=3, p=4): stronger per guess than Keystone's
 * bcrypt cost 12 default, and memory-hard, which bcrypt is not. */
export const DEFAULT_ARGON2: Argon2Params = { memoryKiB: 65536, passes: 3, parallelism: 4 };

const TAG_LENGTH = 32;

/** At most one hash per core at a time. Each holds 64 MiB and a libuv pool thread: unbounded, a
 * burst of logins would take all four pool threads (stalling file I/O for every other request)
 * and hundreds of MiB, and finish no sooner, since the work is CPU-bound. */
const MAX_CONCURRENT_HASHES = Math.max(1, Math.min(4, availableParallelism()));
let running = 0;
const queue: (() => void)[] = [];

async function derive(password: string, salt: Buffer, p: Argon2Params): Promise<Buffer> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((go) => queue.push(go));
  running++;
  try {
    return await argon2Async('argon2id', {
      message: Buffer.from(password, 'utf8'),
      nonce: salt,
      parallelism: p.parallelism,
      tagLength: TAG_LENGTH,
      memory: p.memoryKiB,
      passes: p.passes,
    });
  } finally {
    running--;
    queue.shift()?.();
  }
}

export async function hashPassword(
  password: string,
  p: Argon2Params = DEFAULT_ARGON2,
): Promise<string> {
  const salt = randomBytes(16);
  const tag = await derive(password, salt, p);
  return `$argon2id$v=19$m=${p.memoryKiB},t=${p.passes},p=${p.parallelism}$${salt.toString('base64url')}$${tag.toString('base64url')}`;
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (!m) return false;
  const params = { memoryKiB: Number(m[1]), passes: Number(m[2]), parallelism: Number(m[3]) };
  const expected = Buffer.from(m[5]!, 'base64url');
  const actual = await derive(password, Buffer.from(m[4]!, 'base64url'), params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A hash of nothing useful that costs what a real verify costs, so an unknown user name takes as
 * long to reject as a wrong password (no user enumeration by timing). */
let dummyHash: Promise<string> | undefined;
export async function burnVerify(
  password: string,
  p: Argon2Params = DEFAULT_ARGON2,
): Promise<void> {
  dummyHash ??= hashPassword('nubes-dummy-password', p);
  await verifyPassword(password, await dummyHash);
}
