// Tokens that need no database row: the claims are sealed with AES-256-GCM (authenticated
// encryption, the role Fernet plays in Keystone) under a rotating key ring. This file only seals
// and opens; whether a token is revoked or its user still valid is decided by token-context.ts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type AuthMethod = 'password' | 'token' | 'application_credential';

export type TokenScope =
  | { readonly kind: 'unscoped' }
  | { readonly kind: 'project'; readonly projectId: string }
  | { readonly kind: 'domain'; readonly domainId: string }
  | { readonly kind: 'system' };

export interface TokenClaims {
  readonly userId: string;
  readonly methods: readonly AuthMethod[];
  readonly scope: TokenScope;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** This token's audit id first, then the audit id of the token it was re-scoped from. */
  readonly auditIds: readonly string[];
  readonly appCredId: string | null;
}

export interface TokenKey {
  readonly id: number;
  readonly key: Buffer;
}

const VERSION = 1;
const HEADER = 1 + 4 + 12;
const TAG = 16;

/** Keys ordered by id. The newest is staged (accepted, not yet used to seal, so every replica
 * knows it before it becomes primary); the one before it is primary; older ones only open. */
export class TokenKeyRing {
  readonly #keys: ReadonlyMap<number, Buffer>;
  readonly #primary: TokenKey;
  constructor(keys: readonly TokenKey[]) {
    if (keys.length === 0) throw new Error('the token key ring is empty');
    const sorted = [...keys].sort((a, b) => a.id - b.id);
    this.#keys = new Map(sorted.map((k) => [k.id, k.key]));
    this.#primary = sorted.length === 1 ? sorted[0]! : sorted[sorted.length - 2]!;
  }
  get primaryId(): number {
    return this.#primary.id;
  }
  has(id: number): boolean {
    return this.#keys.has(id);
  }

  seal(claims: TokenClaims): string {
    const iv = randomBytes(12);
    const header = Buffer.alloc(HEADER);
    header.writeUInt8(VERSION, 0);
    header.writeUInt32BE(this.#primary.id, 1);
    iv.copy(header, 5);
    const cipher = createCipheriv('aes-256-gcm', this.#primary.key, iv);
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(encodeClaims(claims)), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The claims, or undefined for anything not sealed by a key of this ring (or tampered with). */
  open(token: string): TokenClaims | undefined {
    if (token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < HEADER + TAG + 1 || raw.readUInt8(0) !== VERSION) return undefined;
    const key = this.#keys.get(raw.readUInt32BE(1));
    if (!key) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(5, HEADER));
      decipher.setAAD(raw.subarray(0, HEADER));
      decipher.setAuthTag(raw.subarray(raw.length - TAG));
      const plain = Buffer.concat([
        decipher.update(raw.subarray(HEADER, raw.length - TAG)),
        decipher.final(),
      ]);
      return decodeClaims(plain);
    } catch {
      return undefined;
    }
  }

  /** The key id a token names, to tell "unknown key: reload the ring" from "forged". */
  static keyIdOf(token: string): number | undefined {
    const raw = Buffer.from(token.slice(0, 12), 'base64url');
    return raw.length >= 5 && raw.readUInt8(0) === VERSION ? raw.readUInt32BE(1) : undefined;
  }
}

export function newTokenKey(id: number): TokenKey {
  return { id, key: randomBytes(32) };
}

const METHOD_CODES: readonly AuthMethod[] = ['password', 'token', 'application_credential'];

function encodeClaims(c: TokenClaims): Buffer {
  const s = c.scope;
  return Buffer.from(
    JSON.stringify({
      u: c.userId,
      m: c.methods.map((m) => METHOD_CODES.indexOf(m)),
      i: c.issuedAt,
      e: c.expiresAt,
      a: c.auditIds,
      ...(s.kind === 'project'
        ? { p: s.projectId }
        : s.kind === 'domain'
          ? { d: s.domainId }
          : s.kind === 'system'
            ? { s: 1 }
            : {}),
      ...(c.appCredId ? { c: c.appCredId } : {}),
    }),
    'utf8',
  );
}

function decodeClaims(b: Buffer): TokenClaims | undefined {
  const o = JSON.parse(b.toString('utf8')) as Record<string, unknown>;
  if (
    typeof o['u'] !== 'string' ||
    typeof o['i'] !== 'number' ||
    typeof o['e'] !== 'number' ||
    !Array.isArray(o['a']) ||
    !Array.isArray(o['m'])
  )
    return undefined;
  const methods = (o['m'] as number[])
    .map((n) => METHOD_CODES[n])
    .filter((m): m is AuthMethod => m !== undefined);
  const scope: TokenScope =
    typeof o['p'] === 'string'
      ? { kind: 'project', projectId: o['p'] }
      : typeof o['d'] === 'string'
        ? { kind: 'domain', domainId: o['d'] }
        : o['s'] === 1
          ? { kind: 'system' }
          : { kind: 'unscoped' };
  return {
    userId: o['u'],
    methods,
    scope,
    issuedAt: o['i'],
    expiresAt: o['e'],
    auditIds: o['a'] as string[],
    appCredId: typeof o['c'] === 'string' ? o['c'] : null,
  };
}

/** Keystone's audit ids: 16 random bytes, URL-safe base64 without padding. */
export function newAuditId(): string {
  return randomBytes(16).toString('base64url');
}
