// The checks a server create makes before anything is written: the flavor, image, zone or forced
// host, networks and server group it names must exist and fit, and the count that fits the quota.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, Forbidden } from '../../platform/errors.ts';
import * as flavors from '../store/flavors.ts';
import * as groups from '../store/server-groups.ts';
import * as hostStore from '../store/hosts.ts';
import { instanceFlavorOf, type InstanceFlavor, type RequestedNetworks } from '../model.ts';
import type { QuotaService } from './quotas.ts';
import type { BootImage, ImagePort } from './ports.ts';

export function createServerChecks(deps: {
  db: DbHandle;
  policy: Policy;
  quotas: QuotaService;
  images: ImagePort;
}) {
  const { db, policy, quotas, images } = deps;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});

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
    return instanceFlavorOf(f);
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

  return { resolveFlavor, resolveImage, resolveZone, checkNetworks, allowedCount, resolveGroup };
}
