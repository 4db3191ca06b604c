// What identity announces on the bus (topic 'notifications'), named as Keystone's: the basic
// format `identity.<resource>.<operation>` with `{resource_info: id}` for created, updated and
// deleted resources, and CADF events where Keystone always sends CADF (identity.authenticate for a
// password check, identity.role_assignment.*). Payloads carry ids only: never a password or secret.
import type { Bus, JsonValue } from '../../platform/bus/bus.ts';
import {
  event,
  notifier,
  type Catalogue,
  type PayloadOf,
} from '../../platform/bus/notifications.ts';
import { fields, type Fields } from '../../platform/bus/wire.ts';
import type { Logger } from '../../platform/log.ts';
import type { AuthContext } from '../../platform/auth/context.ts';

export const IDENTITY_NOTIFICATION_TOPIC = 'notifications';

/** The resources with basic notifications, and the operations each has. */
const RESOURCES = {
  domain: ['created', 'updated', 'deleted'],
  project: ['created', 'updated', 'deleted'],
  user: ['created', 'updated', 'deleted'],
  group: ['created', 'updated', 'deleted'],
  role: ['created', 'updated', 'deleted'],
  region: ['created', 'updated', 'deleted'],
  service: ['created', 'updated', 'deleted'],
  endpoint: ['created', 'updated', 'deleted'],
  // Immutable once made, as trusts are in Keystone.
  application_credential: ['created', 'deleted'],
} as const;
export type IdentityResource = keyof typeof RESOURCES;
type Operation<R extends IdentityResource> = (typeof RESOURCES)[R][number];
export type BasicEvent = {
  [R in IdentityResource]: `identity.${R}.${Operation<R>}`;
}[IdentityResource];

/** Keystone's basic payload; a group's membership change adds who was added or removed. */
export interface BasicPayload {
  readonly resource_info: string;
  readonly actor_id?: string;
  readonly actor_type?: 'user';
  readonly actor_operation?: 'added' | 'removed';
}

export function parseBasicPayload(v: JsonValue): BasicPayload {
  const f = fields(v, 'identity payload');
  const base = { resource_info: f.string('resource_info') };
  if (f.raw['actor_id'] === undefined) return base;
  return {
    ...base,
    actor_id: f.string('actor_id'),
    actor_type: f.oneOf('actor_type', ['user']),
    actor_operation: f.oneOf('actor_operation', ['added', 'removed']),
  };
}

/** A party of a CADF event (initiator, target, observer). */
export interface CadfResource {
  readonly typeURI: string;
  readonly id: string;
  readonly user_id?: string;
  readonly project_id?: string;
  readonly domain_id?: string;
}

/** A CADF activity event, as Keystone's payloads are in its CADF format. */
export interface CadfPayload {
  readonly typeURI: 'http://schemas.dmtf.org/cloud/audit/1.0/event';
  readonly id: string;
  readonly eventType: 'activity';
  readonly eventTime: string;
  readonly action: string;
  readonly outcome: 'success' | 'failure';
  readonly initiator: CadfResource;
  readonly target: CadfResource;
  readonly observer: CadfResource;
  /** Why an authentication failed, where Keystone says (an expired password). */
  readonly reason?: { readonly reasonCode: string; readonly reasonType: string };
  // A role assignment's parts: the role, one actor, one target, and whether it is inherited.
  readonly role?: string;
  readonly user?: string;
  readonly group?: string;
  readonly project?: string;
  readonly domain?: string;
  readonly inherited_to_projects?: boolean;
}

const CADF_EVENT = 'http://schemas.dmtf.org/cloud/audit/1.0/event';
const ACCOUNT_USER = 'service/security/account/user';

function parseCadfResource(v: JsonValue, what: string): CadfResource {
  const f = fields(v, what);
  return {
    typeURI: f.string('typeURI'),
    id: f.string('id'),
    ...optionalString(f, 'user_id'),
    ...optionalString(f, 'project_id'),
    ...optionalString(f, 'domain_id'),
  };
}

function optionalString<K extends string>(f: Fields, k: K): { [P in K]?: string } {
  return (f.raw[k] === undefined ? {} : { [k]: f.string(k) }) as { [P in K]?: string };
}

export function parseCadfPayload(v: JsonValue): CadfPayload {
  const f = fields(v, 'CADF payload');
  if (f.string('typeURI') !== CADF_EVENT) throw new Error('CADF payload: not a CADF event');
  const reason = f.raw['reason'];
  const r = reason === undefined ? undefined : fields(reason, 'CADF reason');
  const inherited = f.optionalBoolean('inherited_to_projects');
  return {
    typeURI: CADF_EVENT,
    id: f.string('id'),
    eventType: f.oneOf('eventType', ['activity']),
    eventTime: f.string('eventTime'),
    action: f.string('action'),
    outcome: f.oneOf('outcome', ['success', 'failure']),
    initiator: parseCadfResource(f.value('initiator'), 'CADF initiator'),
    target: parseCadfResource(f.value('target'), 'CADF target'),
    observer: parseCadfResource(f.value('observer'), 'CADF observer'),
    ...(r
      ? { reason: { reasonCode: r.string('reasonCode'), reasonType: r.string('reasonType') } }
      : {}),
    ...optionalString(f, 'role'),
    ...optionalString(f, 'user'),
    ...optionalString(f, 'group'),
    ...optionalString(f, 'project'),
    ...optionalString(f, 'domain'),
    ...(inherited === undefined ? {} : { inherited_to_projects: inherited }),
  };
}

/** Every event identity sends, with its payload. */
export const IDENTITY_NOTIFICATIONS = {
  ...(Object.fromEntries(
    Object.entries(RESOURCES).flatMap(([r, ops]) =>
      ops.map((op) => [`identity.${r}.${op}`, event(parseBasicPayload)]),
    ),
  ) as Readonly<Record<BasicEvent, ReturnType<typeof event<BasicPayload>>>>),
  'identity.authenticate': event(parseCadfPayload),
  'identity.role_assignment.created': event(parseCadfPayload),
  'identity.role_assignment.deleted': event(parseCadfPayload),
} as const satisfies Catalogue;

export type IdentityCatalogue = typeof IDENTITY_NOTIFICATIONS;

/** A role assignment as the notification names it (system grants are not announced, as in Keystone). */
export interface AssignmentFacts {
  readonly roleId: string;
  readonly actor: { readonly kind: 'user' | 'group'; readonly id: string };
  readonly target: { readonly kind: 'project' | 'domain'; readonly id: string };
  readonly inherited: boolean;
}

const cadfId = () => `openstack:${crypto.randomUUID()}`;

/**
 * Announces identity events once a bus is attached; without one nothing is sent. A failure to
 * send is logged, never thrown: the change it reports has already happened.
 */
export function createIdentityNotifications(deps: {
  readonly now: () => number;
  /** The id of the identity service in the catalog: the CADF observer, as in Keystone. */
  readonly observerId: () => Promise<string | undefined>;
}) {
  let target: { bus: Bus; publisher: string; log: Logger | undefined } | undefined;

  async function emit<E extends keyof IdentityCatalogue & string>(
    e: E,
    payload: PayloadOf<IdentityCatalogue[E]>,
  ): Promise<void> {
    if (!target) return;
    const { log } = target;
    await notifier(target.bus, IDENTITY_NOTIFICATION_TOPIC, IDENTITY_NOTIFICATIONS, {
      now: deps.now,
    })
      .emit(e, payload, target.publisher)
      .catch((err: unknown) => log?.warn({ err, event: e }, 'notify failed'));
  }

  async function cadf(
    action: string,
    outcome: 'success' | 'failure',
    initiator: CadfResource,
    extra: Partial<CadfPayload> = {},
  ): Promise<CadfPayload> {
    const observer = await deps.observerId().catch(() => undefined);
    return {
      typeURI: CADF_EVENT,
      id: cadfId(),
      eventType: 'activity',
      eventTime: new Date(deps.now()).toISOString(),
      action,
      outcome,
      initiator,
      target: { typeURI: ACCOUNT_USER, id: cadfId() },
      observer: { typeURI: 'service/security', id: observer ?? 'unknown' },
      ...extra,
    };
  }

  const initiatorOf = (ctx: AuthContext): CadfResource => ({
    typeURI: ACCOUNT_USER,
    id: ctx.user.id,
    user_id: ctx.user.id,
    ...(ctx.scope.kind === 'project' ? { project_id: ctx.scope.project.id } : {}),
    ...(ctx.scope.kind === 'domain' ? { domain_id: ctx.scope.domain.id } : {}),
  });

  return {
    /** Sends from now on over `bus` as `identity.<host>` (Keystone's publisher id). */
    attach(bus: Bus, host: string, log?: Logger): void {
      target = { bus, publisher: `identity.${host}`, log };
    },
    /** identity.<resource>.<operation> with the resource's id. */
    resource: <R extends IdentityResource>(resource: R, op: Operation<R>, id: string) =>
      emit(`identity.${resource}.${op}` as BasicEvent, { resource_info: id }),
    /** A user added to or removed from a group: an update of the group, naming the user. */
    membership: (groupId: string, userId: string, op: 'added' | 'removed') =>
      emit('identity.group.updated', {
        resource_info: groupId,
        actor_id: userId,
        actor_type: 'user',
        actor_operation: op,
      }),
    /** A password check of a known user, and its outcome (`reason` for an expired password). */
    async authenticated(userId: string, ok: boolean, reason?: string): Promise<void> {
      if (!target) return;
      const initiator = { typeURI: ACCOUNT_USER, id: userId, user_id: userId };
      const extra =
        reason === undefined ? {} : { reason: { reasonCode: '401', reasonType: reason } };
      await emit(
        'identity.authenticate',
        await cadf('authenticate', ok ? 'success' : 'failure', initiator, extra),
      );
    },
    async roleAssignment(
      op: 'created' | 'deleted',
      ctx: AuthContext,
      a: AssignmentFacts,
    ): Promise<void> {
      if (!target) return;
      await emit(
        `identity.role_assignment.${op}`,
        await cadf(`${op}.role_assignment`, 'success', initiatorOf(ctx), {
          role: a.roleId,
          [a.actor.kind]: a.actor.id,
          [a.target.kind]: a.target.id,
          inherited_to_projects: a.inherited,
        }),
      );
    },
  };
}

export type IdentityNotifications = ReturnType<typeof createIdentityNotifications>;
