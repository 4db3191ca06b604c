// SQL for application credentials and token revocation events (the token keys and other meta
// facts are in meta.ts).
import type { Selectable } from 'kysely';
import type { AppCredentialTable, IdentityExecutor } from './tables.ts';
import type { AppCredential } from '../model.ts';
import { flag, parseJson, uniquely } from '../../platform/db/store-helpers.ts';
import { hexId } from '../../platform/ids.ts';
import { ACCESS_RULE_METHODS, type AccessRule } from '../../platform/auth/access-rules.ts';

/** A rule no request matches: what a stored rule that does not parse becomes, so that a
 * credential stored with rules never turns unrestricted by reading them. */
const NO_ACCESS: AccessRule = { id: '', service: '', method: 'GET', path: '' };

function toAccessRules(text: string): AccessRule[] {
  const raw = parseJson<unknown>(text, [NO_ACCESS]);
  if (!Array.isArray(raw)) return [NO_ACCESS];
  return raw.map((x: unknown) => {
    const r = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    const method = ACCESS_RULE_METHODS.find((m) => m === r['method']);
    const { id, service, path } = r;
    if (!method || typeof service !== 'string' || !service || typeof path !== 'string')
      return NO_ACCESS;
    return { id: typeof id === 'string' ? id : '', service, method, path };
  });
}

const toAppCred = (r: Selectable<AppCredentialTable>): AppCredential => ({
  id: r.id,
  name: r.name,
  userId: r.user_id,
  projectId: r.project_id,
  secretHash: r.secret_hash,
  description: r.description,
  expiresAt: r.expires_at,
  unrestricted: r.unrestricted === 1,
  roles: parseJson(r.roles, []),
  accessRules: toAccessRules(r.access_rules),
});

export async function insertAppCred(
  db: IdentityExecutor,
  a: AppCredential,
): Promise<AppCredential> {
  await uniquely(`Duplicate entry found with name ${a.name}.`, () =>
    db
      .insertInto('app_credentials')
      .values({
        id: a.id,
        name: a.name,
        user_id: a.userId,
        project_id: a.projectId,
        secret_hash: a.secretHash,
        description: a.description,
        expires_at: a.expiresAt,
        unrestricted: flag(a.unrestricted),
        roles: JSON.stringify(a.roles),
        access_rules: JSON.stringify(a.accessRules),
        created_at: Date.now(),
      })
      .execute(),
  );
  return a;
}
export async function getAppCred(
  db: IdentityExecutor,
  id: string,
): Promise<AppCredential | undefined> {
  const r = await db
    .selectFrom('app_credentials')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return r && toAppCred(r);
}
export async function getAppCredByName(
  db: IdentityExecutor,
  userId: string,
  name: string,
): Promise<AppCredential | undefined> {
  const r = await db
    .selectFrom('app_credentials')
    .selectAll()
    .where('user_id', '=', userId)
    .where('name', '=', name)
    .executeTakeFirst();
  return r && toAppCred(r);
}
export async function listAppCreds(
  db: IdentityExecutor,
  userId: string,
  name?: string,
): Promise<AppCredential[]> {
  let q = db
    .selectFrom('app_credentials')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('name');
  if (name !== undefined) q = q.where('name', '=', name);
  return (await q.execute()).map(toAppCred);
}
/** The access rules of a user's credentials, to reuse a rule's id as Keystone does. */
export async function listUserAccessRules(
  db: IdentityExecutor,
  userId: string,
): Promise<AccessRule[]> {
  const rows = await db
    .selectFrom('app_credentials')
    .select('access_rules')
    .where('user_id', '=', userId)
    .execute();
  return rows.flatMap((r) => toAccessRules(r.access_rules)).filter((r) => r.id !== '');
}
export async function deleteAppCred(db: IdentityExecutor, id: string): Promise<void> {
  await db.deleteFrom('app_credentials').where('id', '=', id).execute();
}

export interface RevocationEvent {
  readonly auditId?: string;
  readonly userId?: string;
  readonly projectId?: string;
  readonly domainId?: string;
  readonly appCredId?: string;
  /** Tokens issued at or before this time (epoch ms) that match are revoked. */
  readonly issuedBefore: number;
}

export async function insertRevocation(db: IdentityExecutor, e: RevocationEvent): Promise<void> {
  await db
    .insertInto('revocation_events')
    .values({
      id: hexId(),
      audit_id: e.auditId ?? null,
      user_id: e.userId ?? null,
      project_id: e.projectId ?? null,
      domain_id: e.domainId ?? null,
      app_cred_id: e.appCredId ?? null,
      issued_before: e.issuedBefore,
      revoked_at: Date.now(),
    })
    .execute();
}

export interface TokenFacts {
  /** Only the first (the token's own) audit id is matched, as Keystone does. */
  readonly auditIds: readonly string[];
  readonly userId: string;
  readonly projectId: string | null;
  readonly domainId: string | null;
  readonly appCredId: string | null;
  readonly issuedAt: number;
}

/** True when any revocation event matches the token (one indexed query on the validation path). */
export async function isRevoked(db: IdentityExecutor, t: TokenFacts): Promise<boolean> {
  const r = await db
    .selectFrom('revocation_events')
    .select('id')
    .where((eb) =>
      eb.or([
        eb('audit_id', '=', t.auditIds[0] ?? ''),
        eb.and([eb('user_id', '=', t.userId), eb('issued_before', '>=', t.issuedAt)]),
        ...(t.projectId
          ? [eb.and([eb('project_id', '=', t.projectId), eb('issued_before', '>=', t.issuedAt)])]
          : []),
        ...(t.domainId
          ? [eb.and([eb('domain_id', '=', t.domainId), eb('issued_before', '>=', t.issuedAt)])]
          : []),
        ...(t.appCredId
          ? [eb.and([eb('app_cred_id', '=', t.appCredId), eb('issued_before', '>=', t.issuedAt)])]
          : []),
      ]),
    )
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}

/** Drops events older than any token they could match (tokens never outlive `maxTokenLifeMs`). */
export async function pruneRevocations(
  db: IdentityExecutor,
  maxTokenLifeMs: number,
): Promise<void> {
  await db
    .deleteFrom('revocation_events')
    .where('revoked_at', '<', Date.now() - maxTokenLifeMs)
    .execute();
}
