// Use cases for servers: create (validation against flavors, images, key pairs, zones and groups;
// quotas counted and the instances inserted under a per-project lock, so racing api replicas never
// exceed them),
// list and show with Nova's visibility rules, update, metadata, and delete. Scheduling and host
// work go through the lifecycle (lifecycle.ts); actions live in server-actions.ts.
import { randomBytes } from 'node:crypto';
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Logger } from '../../platform/log.ts';
import { BadRequest, Forbidden, NotFound, Conflict } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as flavors from '../store/flavors.ts';
import * as keypairs from '../store/keypairs.ts';
import * as groups from '../store/server-groups.ts';
import * as actions from '../store/instance-actions.ts';
import * as hostStore from '../store/hosts.ts';
import type { Instance, InstanceFlavor, RequestedNetworks, SchedulingRequest } from '../model.ts';
import type { QuotaService } from './quotas.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { BootImage, ImagePort } from './ports.ts';

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

export type { InstanceQuery, SortColumn } from '../store/instances.ts';

export interface ServerListQuery extends Omit<
  instances.InstanceQuery,
  'projectId' | 'marker' | 'limit'
> {
  readonly allProjects: boolean;
  readonly projectId?: string;
  readonly marker?: string;
  readonly limit: number;
}

const instanceTarget = (i: Instance) => ({ project_id: i.projectId, user_id: i.userId });

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

export function createServerService(deps: {
  db: DbHandle;
  policy: Policy;
  quotas: QuotaService;
  lifecycle: Lifecycle;
  images: ImagePort;
  log: Logger;
  now?: () => number;
}) {
  const { db, policy, quotas, lifecycle, images, log } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});

  function projectOf(ctx: AuthContext): string {
    if (ctx.scope.kind !== 'project')
      throw new Forbidden(
        'Servers belong to projects: use a project-scoped token.',
        'servers_need_project',
      );
    return ctx.scope.project.id;
  }

  /** The server if the caller may see it: its own project's, or any for admins (404 otherwise, as Nova). */
  async function visible(
    ctx: AuthContext,
    id: string,
    rule = 'os_compute_api:servers:show',
  ): Promise<Instance> {
    const i = await instances.getInstance(db, id);
    const own = ctx.scope.kind === 'project' && i?.projectId === ctx.scope.project.id;
    if (!i || (!own && !isAdmin(ctx)))
      throw new NotFound(`Instance ${id} could not be found.`, 'instance_not_found');
    policy.enforce(rule, ctx.credentials, instanceTarget(i));
    return i;
  }

  async function resolveFlavor(ctx: AuthContext, id: string): Promise<InstanceFlavor> {
    const f = await flavors.getFlavor(db, id);
    const project = ctx.scope.kind === 'project' ? ctx.scope.project.id : undefined;
    if (
      !f ||
      (!f.isPublic &&
        !isAdmin(ctx) &&
        !(project !== undefined && (await flavors.hasAccess(db, f.id, project))))
    ) {
      throw new BadRequest(`Flavor ${id} could not be found.`, 'flavor_not_found');
    }
    if (f.disabled)
      throw new BadRequest(`Flavor ${id} is disabled and cannot be used.`, 'flavor_disabled');
    return {
      id: f.id,
      name: f.name,
      vcpus: f.vcpus,
      memoryMb: f.ramMb,
      rootGb: f.diskGb,
      ephemeralGb: f.ephemeralGb,
      swapMb: f.swapMb,
      extraSpecs: f.extraSpecs,
    };
  }

  async function resolveImage(
    ctx: AuthContext,
    id: string,
    flavor: InstanceFlavor,
  ): Promise<BootImage> {
    const img = await images.find(ctx, id);
    if (!img) throw new BadRequest(`Image ${id} could not be found.`, 'image_not_found');
    if (img.status !== 'active')
      throw new BadRequest(`Image ${id} is not active.`, 'image_not_active');
    if (img.diskFormat === 'aki' || img.diskFormat === 'ari')
      throw new BadRequest(
        `Cannot boot from image ${id}: it is a kernel or ramdisk (${img.diskFormat}).`,
        'image_not_bootable',
      );
    if (flavor.memoryMb < img.minRamMb)
      throw new BadRequest(
        `Flavor's memory is too small for requested image: it needs ${img.minRamMb} MB.`,
        'flavor_memory_too_small',
      );
    // A flavor with disk 0 boots at the image's size (Nova allows it for images, not volumes).
    if (flavor.rootGb > 0) {
      const needBytes = Math.max(img.minDiskGb * 2 ** 30, img.virtualSize ?? img.size ?? 0);
      if (needBytes > flavor.rootGb * 2 ** 30)
        throw new BadRequest(
          `Flavor's disk is too small for requested image: it needs ${Math.ceil(needBytes / 2 ** 30)} GB.`,
          'flavor_disk_too_small',
        );
    }
    return img;
  }

  /** "zone", "zone:host", "zone:host:node" → the zone and an admin's forced host. */
  async function resolveZone(
    ctx: AuthContext,
    raw: string | null,
    host: string | null,
  ): Promise<{ zone: string | null; forcedHost: string | null }> {
    let zone = raw;
    let forcedHost = host;
    if (raw !== null && raw.includes(':')) {
      const [z, h, node] = raw.split(':');
      zone = z === '' ? null : z!;
      forcedHost = (h === '' ? null : h) ?? (node === '' || node === undefined ? null : node);
    }
    if (forcedHost !== null) {
      policy.enforce('os_compute_api:servers:create:forced_host', ctx.credentials, {});
      if (!(await hostStore.getHost(db, forcedHost)))
        throw new BadRequest(`Compute host ${forcedHost} could not be found.`, 'host_not_found');
    }
    if (zone !== null && (await hostStore.listHosts(db, { zone })).length === 0) {
      throw new BadRequest(
        `The requested availability zone is not available: ${zone}.`,
        'zone_not_available',
      );
    }
    return { zone, forcedHost };
  }

  function checkNetworks(n: RequestedNetworks): void {
    if (typeof n === 'string') return;
    // No network service yet: an explicit network or port cannot exist. 'none' and 'auto' boot without NICs.
    for (const r of n) {
      if (r.port !== undefined)
        throw new BadRequest(`Port ${r.port} could not be found.`, 'port_not_found');
      if (r.uuid !== undefined)
        throw new BadRequest(`Network ${r.uuid} could not be found.`, 'network_not_found');
    }
  }

  /** How many of the requested instances fit the quota; 403 when fewer than `min` do. */
  async function allowedCount(
    ex: DbHandle,
    projectId: string,
    flavor: InstanceFlavor,
    min: number,
    max: number,
    metadataItems: number,
  ): Promise<number> {
    const limits = await quotas.limitsOf(projectId, ex);
    if (limits.metadata_items >= 0 && metadataItems > limits.metadata_items) {
      throw new Forbidden(
        `Quota exceeded for metadata_items: at most ${limits.metadata_items} metadata items per server.`,
        'quota_exceeded',
      );
    }
    const used = await quotas.usageOf(projectId, '', ex);
    let allowed = max;
    let limiting: { r: string; per: number } | undefined;
    for (const [r, per] of [
      ['instances', 1],
      ['cores', flavor.vcpus],
      ['ram', flavor.memoryMb],
    ] as const) {
      const limit = limits[r];
      if (limit < 0 || per === 0) continue;
      const fit = Math.floor((limit - used[r]) / per);
      if (fit < allowed) {
        allowed = Math.max(fit, 0);
        limiting = { r, per };
      }
    }
    if (allowed < min && limiting) {
      const r = limiting.r as 'instances' | 'cores' | 'ram';
      throw new Forbidden(
        `Quota exceeded for ${r}: Requested ${limiting.per * min}, but already used ${used[r]} of ${limits[r]} ${r}`,
        'quota_exceeded',
      );
    }
    return allowed;
  }

  async function resolveGroup(
    ctx: AuthContext,
    projectId: string,
    id: string | null,
  ): Promise<groups.ServerGroup | null> {
    if (id === null) return null;
    const g = await groups.getGroup(db, id);
    if (!g || (g.projectId !== projectId && !isAdmin(ctx)))
      throw new BadRequest(
        `Invalid server group: ${id} could not be found.`,
        'server_group_not_found',
      );
    return g;
  }

  return {
    visible,
    instanceTarget,

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
      // Scheduling runs after the 202, as in Nova; its outcome shows in the server's status.
      void lifecycle
        .schedule(created, actionIds)
        .catch((err: unknown) => log.error({ err, reservationId }, 'scheduling failed'));
      return { servers: created, reservationId, adminPass };
    },

    get: (ctx: AuthContext, id: string) => visible(ctx, id),

    async list(ctx: AuthContext, q: ServerListQuery, detail: boolean): Promise<Instance[]> {
      const own = ctx.scope.kind === 'project' ? ctx.scope.project.id : undefined;
      policy.enforce(
        detail ? 'os_compute_api:servers:detail' : 'os_compute_api:servers:index',
        ctx.credentials,
        { project_id: own ?? '' },
      );
      let projectId: string | undefined = own;
      if (q.allProjects) {
        policy.enforce(
          detail
            ? 'os_compute_api:servers:detail:get_all_tenants'
            : 'os_compute_api:servers:index:get_all_tenants',
          ctx.credentials,
          {},
        );
        projectId = q.projectId;
      } else if (q.projectId !== undefined && q.projectId !== own) {
        // Nova ignores another project's id unless all_tenants is given.
        projectId = own;
      }
      if (projectId === undefined && !q.allProjects)
        throw new Forbidden(
          'Listing servers needs a project-scoped token (or all_tenants for admins).',
          'servers_need_project',
        );
      let marker: Instance | undefined;
      if (q.marker !== undefined) {
        marker = await instances.getInstance(db, q.marker, { withDeleted: true });
        if (!marker || (projectId !== undefined && marker.projectId !== projectId))
          throw new BadRequest(`marker [${q.marker}] not found`, 'servers_bad_marker');
      }
      try {
        const { marker: _m, allProjects: _a, projectId: _p, ...filters } = q;
        return await instances.listInstances(db, {
          ...filters,
          ...(projectId !== undefined ? { projectId } : {}),
          ...(marker ? { marker } : {}),
        });
      } catch (e) {
        // PostgreSQL refuses a regular expression JavaScript accepted.
        if ((e as { code?: string }).code === '2201B')
          throw new BadRequest(
            `Invalid regular expression in the name filter: ${(e as Error).message}`,
            'servers_bad_filter',
          );
        throw e;
      }
    },

    async update(
      ctx: AuthContext,
      id: string,
      u: {
        name?: string;
        description?: string | null;
        hostname?: string;
        accessIpv4?: string | null;
        accessIpv6?: string | null;
      },
    ): Promise<Instance> {
      const i = await visible(ctx, id, 'os_compute_api:servers:update');
      const t = await instances.updateInstance(
        db,
        i.id,
        {
          ...(u.name !== undefined ? { name: u.name } : {}),
          ...(u.description !== undefined ? { description: u.description } : {}),
          ...(u.hostname !== undefined ? { hostname: u.hostname } : {}),
          ...(u.accessIpv4 !== undefined ? { access_ipv4: u.accessIpv4 } : {}),
          ...(u.accessIpv6 !== undefined ? { access_ipv6: u.accessIpv6 } : {}),
        },
        now(),
      );
      if (!t) throw new NotFound(`Instance ${id} could not be found.`, 'instance_not_found');
      return t;
    },

    /** Server metadata: replace all, merge, set one key, or delete one key. */
    async setMetadata(
      ctx: AuthContext,
      id: string,
      change: { replace?: Record<string, string>; merge?: Record<string, string>; remove?: string },
      create = false,
    ): Promise<Instance> {
      const rule =
        change.remove !== undefined
          ? 'delete'
          : change.replace
            ? 'update_all'
            : create
              ? 'create'
              : 'update';
      const i = await visible(ctx, id, `os_compute_api:server-metadata:${rule}`);
      if (i.lockedBy !== null && !isAdmin(ctx))
        throw new Conflict(`Instance ${i.id} is locked`, 'instance_locked');
      let meta: Record<string, string> = change.replace
        ? { ...change.replace }
        : { ...i.metadata, ...change.merge };
      if (change.remove !== undefined) {
        if (!(change.remove in i.metadata))
          throw new NotFound(`Metadata item was not found: ${change.remove}`, 'metadata_not_found');
        meta = { ...i.metadata };
        delete meta[change.remove];
      }
      const limit = (await quotas.limitsOf(i.projectId)).metadata_items;
      if (limit >= 0 && Object.keys(meta).length > limit)
        throw new Forbidden(
          `Quota exceeded for metadata_items: at most ${limit} metadata items per server.`,
          'quota_exceeded',
        );
      return (await instances.updateInstance(db, i.id, { metadata: JSON.stringify(meta) }, now()))!;
    },

    async remove(ctx: AuthContext, id: string, requestId: string): Promise<void> {
      const i = await visible(ctx, id, 'os_compute_api:servers:delete');
      if (i.lockedBy !== null && !isAdmin(ctx))
        throw new Conflict(`Instance ${i.id} is locked`, 'instance_locked');
      // A delete asked again (its first cast lost, its host gone) is sent again.
      if (i.taskState === 'deleting') {
        await lifecycle.destroy(i, null);
        return;
      }
      const deleting = await instances.transition(db, i.id, 'delete', {}, now());
      if (!deleting) return;
      const actionId = crypto.randomUUID();
      await actions.startActions(db, [
        {
          id: actionId,
          instanceId: i.id,
          requestId,
          action: 'delete',
          projectId: i.projectId,
          userId: ctx.user.id,
          startTime: now(),
        },
      ]);
      await lifecycle.destroy(deleting, actionId);
    },
  };
}

export type ServerService = ReturnType<typeof createServerService>;
