// Server create: validation (server-create-checks.ts), then the quota counted and the instances
// inserted under a per-project lock, so racing api replicas never exceed it; scheduling runs after
// the 202 through the lifecycle.
import { randomBytes } from 'node:crypto';
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Logger } from '../../platform/log.ts';
import { BadRequest, Forbidden } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as keypairs from '../store/keypairs.ts';
import * as groups from '../store/server-groups.ts';
import * as actions from '../store/instance-actions.ts';
import type { Instance, RequestedNetworks, SchedulingRequest } from '../model.ts';
import type { QuotaService } from './quotas.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { ImagePort } from './ports.ts';
import { createServerChecks } from './server-create-checks.ts';

export interface ServerCreate {
  readonly name: string;
  readonly description: string | null;
  readonly imageId: string;
  readonly flavorId: string;
  readonly keyName: string | null;
  readonly userData: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** As the user wrote it: "zone", "zone:host" or "zone:host:node" (the host part is admin only). */
  readonly availabilityZone: string | null;
  /** An admin's explicit host (2.74). */
  readonly host: string | null;
  readonly networks: RequestedNetworks;
  readonly securityGroups: readonly string[];
  readonly minCount: number;
  readonly maxCount: number;
  readonly accessIpv4: string | null;
  readonly accessIpv6: string | null;
  readonly configDrive: boolean;
  readonly hostname: string | null;
  readonly adminPass: string | null;
  readonly hints: {
    readonly group: string | null;
    readonly sameHost: readonly string[];
    readonly differentHost: readonly string[];
  };
}

/** Nova's sanitize_hostname: what a guest can use as its host name. */
export function sanitizeHostname(name: string, fallback: string): string {
  const h = name
    .replace(/[ _.]/g, '-')
    .replace(/[^\w.-]+/g, '')
    .toLowerCase()
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 63)
    .replace(/[.-]+$/, '');
  return h === '' ? fallback : h;
}

const RESERVATION_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const randomString = (n: number, alphabet: string) =>
  [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');

export function createServerCreation(deps: {
  db: DbHandle;
  policy: Policy;
  quotas: QuotaService;
  lifecycle: Lifecycle;
  images: ImagePort;
  log: Logger;
  now?: () => number;
}) {
  const { db, policy, quotas, lifecycle, log } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});
  const { resolveFlavor, resolveImage, resolveZone, checkNetworks, allowedCount, resolveGroup } =
    createServerChecks(deps);

  function projectOf(ctx: AuthContext): string {
    if (ctx.scope.kind !== 'project')
      throw new Forbidden(
        'Servers belong to projects: use a project-scoped token.',
        'servers_need_project',
      );
    return ctx.scope.project.id;
  }

  return {
    async create(
      ctx: AuthContext,
      c: ServerCreate,
      requestId: string,
    ): Promise<{ servers: Instance[]; reservationId: string; adminPass: string }> {
      const projectId = projectOf(ctx);
      policy.enforce('os_compute_api:servers:create', ctx.credentials, {
        project_id: projectId,
        user_id: ctx.user.id,
      });
      const flavor = await resolveFlavor(ctx, c.flavorId);
      const image = await resolveImage(ctx, c.imageId, flavor);
      let keyData: string | null = null;
      if (c.keyName !== null) {
        const k = await keypairs.getKeypair(db, ctx.user.id, c.keyName);
        if (!k)
          throw new BadRequest(`Invalid key_name provided: ${c.keyName}.`, 'keypair_not_found');
        keyData = k.publicKey;
      }
      const { zone, forcedHost } = await resolveZone(ctx, c.availabilityZone, c.host);
      checkNetworks(c.networks);
      for (const sg of c.securityGroups) {
        if (sg !== 'default')
          throw new BadRequest(
            `Unable to find security_group with name or id '${sg}'.`,
            'security_group_not_found',
          );
      }
      const group = await resolveGroup(ctx, projectId, c.hints.group);
      const reservationId = `r-${randomString(8, RESERVATION_ALPHABET)}`;
      const adminPass =
        c.adminPass ??
        randomString(12, 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789');
      // same_host/different_host name servers; the filters need the hosts they are on (the caller's own servers only).
      const hostsOf = async (ids: readonly string[]) =>
        (await instances.getInstances(db, ids))
          .filter((x) => x.projectId === projectId || isAdmin(ctx))
          .flatMap((x) => (x.host === null ? [] : [x.host]));
      const sameHosts = await hostsOf(c.hints.sameHost);
      const request: SchedulingRequest = {
        availabilityZone: zone,
        forcedHost,
        groupId: group?.id ?? null,
        sameHost: c.hints.sameHost.length > 0 && sameHosts.length === 0 ? [''] : sameHosts,
        differentHost: await hostsOf(c.hints.differentHost),
        imageProperties: image.properties,
        tried: [],
      };
      const t = now();
      const build = (count: number): instances.NewInstance[] =>
        Array.from({ length: count }, (_, n) => {
          const id = crypto.randomUUID();
          // Nova's multi_instance_display_name_template, '%(name)s-%(count)d', for more than one.
          const name = count > 1 ? `${c.name}-${n + 1}` : c.name;
          const hostname =
            c.hostname !== null && count === 1
              ? c.hostname
              : sanitizeHostname(name, `server-${id}`);
          return {
            id,
            name,
            description: c.description,
            projectId,
            userId: ctx.user.id,
            availabilityZone: zone,
            flavor,
            imageId: image.id,
            kernelId: image.properties['kernel_id'] ?? null,
            ramdiskId: image.properties['ramdisk_id'] ?? null,
            keyName: c.keyName,
            keyData,
            userData: c.userData,
            metadata: c.metadata,
            hostname,
            reservationId,
            launchIndex: n,
            configDrive: c.configDrive,
            accessIpv4: c.accessIpv4,
            accessIpv6: c.accessIpv6,
            securityGroups: c.securityGroups,
            requestedNetworks: c.networks,
            request,
            createdAt: t,
          };
        });
      const actionIds = new Map<string, string>();
      // Counting and inserting under the project's lock: racing creates (on any replica) queue here, so none exceeds the quota.
      const list = await quotas.withLock(projectId, async (trx) => {
        const made = build(
          await allowedCount(
            trx,
            projectId,
            flavor,
            c.minCount,
            c.maxCount,
            Object.keys(c.metadata).length,
          ),
        );
        if (group) {
          // Counted under the same lock as the instances, with the number really being added.
          const limit = (await quotas.limitsOf(projectId, trx)).server_group_members;
          const members = (await groups.getGroup(trx, group.id))?.members.length ?? 0;
          if (limit >= 0 && members + made.length > limit) {
            throw new Forbidden(
              `Quota exceeded for server_group_members: the group has ${members} of ${limit} members.`,
              'quota_exceeded',
            );
          }
        }
        for (const i of made) actionIds.set(i.id, crypto.randomUUID());
        await instances.insertInstances(trx, made);
        if (group)
          await groups.addMembers(
            trx,
            group.id,
            made.map((i) => i.id),
          );
        await actions.startActions(
          trx,
          made.map((i) => ({
            id: actionIds.get(i.id)!,
            instanceId: i.id,
            requestId,
            action: 'create',
            projectId,
            userId: ctx.user.id,
            startTime: t,
          })),
        );
        return made;
      });
      const created = await instances.getInstances(
        db,
        list.map((i) => i.id),
      );
      created.sort((a, b) => a.launchIndex - b.launchIndex);
      for (const i of created) lifecycle.noteStart(i, 'create', requestId);
      // Scheduling runs after the 202, as in Nova; its outcome shows in the server's status.
      void lifecycle
        .schedule(created, actionIds, requestId)
        .catch((err: unknown) => log.error({ err, reservationId }, 'scheduling failed'));
      return { servers: created, reservationId, adminPass };
    },
  };
}
