// Actions that move a server between flavors or hosts: resize (in place, holding both flavors
// until confirm or revert), live and cold migration to a scheduled host, and confirm/revert.
import { BadRequest, Conflict, Forbidden } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as flavorStore from '../store/flavors.ts';
import * as actions from '../store/instance-actions.ts';
import { flavorDiskGb } from '../scheduler/host-selection.ts';
import { releaseAllocations, setAllocation } from '../store/claims.ts';
import { getHost } from '../store/hosts.ts';
import { instanceFlavorOf, type Instance, type InstanceFlavor, type Migration } from '../model.ts';
import type { ActionDeps, ActionRun } from './action-kit.ts';

export function createResizeActions(deps: ActionDeps) {
  const { db, lifecycle, scheduler, quotas } = deps;
  const now = deps.now ?? Date.now;

  return {
    async resize(
      { ctx, i, step, undo, record, isAdmin }: ActionRun,
      flavorId: string,
    ): Promise<Instance> {
      const f = await flavorStore.getFlavor(db, flavorId);
      const project = i.projectId;
      if (!f || (!f.isPublic && !isAdmin() && !(await flavorStore.hasAccess(db, f.id, project))))
        throw new BadRequest(`Flavor ${flavorId} could not be found.`, 'flavor_not_found');
      if (f.id === i.flavor.id)
        throw new BadRequest('When resizing, instances must change flavor!', 'resize_same_flavor');
      if (f.disabled)
        throw new BadRequest(
          `Flavor ${flavorId} is disabled and cannot be used.`,
          'flavor_disabled',
        );
      if (f.diskGb < i.flavor.rootGb && f.diskGb !== 0)
        throw new BadRequest(
          'Resize to a flavor with a smaller disk is not allowed.',
          'resize_smaller_disk',
        );
      const next = instanceFlavorOf(f);
      // Growing needs the quota for the difference (Nova counts the larger flavor while resized).
      const limits = await quotas.limitsOf(project);
      const used = await quotas.usageOf(project, '');
      for (const [r, more] of [
        ['cores', next.vcpus - i.flavor.vcpus],
        ['ram', next.memoryMb - i.flavor.memoryMb],
      ] as const) {
        if (more > 0 && limits[r] >= 0 && used[r] + more > limits[r])
          throw new Forbidden(
            `Quota exceeded for ${r}: Requested ${more}, but already used ${used[r]} of ${limits[r]} ${r}`,
            'quota_exceeded',
          );
      }
      if (i.host === null)
        throw new Conflict(`Instance ${i.id} has no host to resize on.`, 'instance_not_placed');
      const prep = await step(i, 'resize', { progress: 0 });
      const actionId = await record('resize');
      // Resized in place, on its own host, holding old and new flavor until confirm or revert.
      if (
        !(await scheduler.claimOn(i.id, i.host, {
          vcpus: next.vcpus,
          memoryMb: next.memoryMb,
          diskGb: flavorDiskGb(next),
        }))
      ) {
        await instances.transition(
          db,
          i.id,
          'taskFailed',
          {
            fault: JSON.stringify({
              code: 500,
              message: `No valid host was found: the server's host has no room for flavor ${f.name}.`,
              details: `host ${i.host}`,
              created: now(),
            }),
          },
          now(),
        );
        await actions.recordEvent(db, actionId, {
          event: 'compute_prep_resize',
          host: i.host,
          finish: now(),
          result: 'Error',
          traceback: `No valid host was found: ${i.host} has no room for flavor ${f.name}`,
        });
        return prep;
      }
      undo.push(() =>
        setAllocation(db, {
          instanceId: i.id,
          host: i.host!,
          vcpus: i.flavor.vcpus,
          memoryMb: i.flavor.memoryMb,
          diskGb: flavorDiskGb(i.flavor),
        }),
      );
      const migrating = await step(prep, 'resizeMigrating', {
        progress: 10,
        migration: JSON.stringify({
          sourceHost: i.host,
          destHost: i.host,
          oldFlavor: i.flavor,
          newFlavor: next,
        }),
      });
      await lifecycle.cast(migrating, { op: 'resize', action_id: actionId, flavor: next });
      return migrating;
    },

    /**
     * os-migrateLive and migrate (cold): a destination chosen by the scheduler (or the admin's host,
     * which must pass its filters too) and claimed, recorded on the instance with the task, and the
     * migration started there. Refusals the caller can act on come back at once as 400s (no such
     * host, the server's own, no room), as Nova's.
     */
    async migrate(
      { i, step, undo, record }: ActionRun,
      a: { kind: 'liveMigrate' | 'migrate'; host: string | null; block?: boolean | 'auto' },
    ): Promise<Instance> {
      const source = i.host!;
      if (a.host !== null) {
        if (a.host === source)
          throw new BadRequest(
            `Unable to migrate instance (${i.id}) to current host (${source}).`,
            'migrate_to_self',
          );
        if (!(await getHost(db, a.host)))
          throw new BadRequest(`Compute host ${a.host} could not be found.`, 'host_not_found');
      }
      const live = a.kind === 'liveMigrate';
      const started = await step(i, live ? 'migrate' : 'resize', { progress: 0 });
      const [p] = await scheduler.place([
        { ...i, request: { ...i.request, forcedHost: a.host, tried: [source] } },
      ]);
      if (!p?.ok)
        throw new BadRequest(
          `No valid host was found to migrate instance ${i.id} to: ${p?.reason ?? 'no placement'}`,
          'no_valid_host',
        );
      undo.push(() => releaseAllocations(db, i.id, p.host));
      const migration: Migration = {
        kind: live ? 'live-migration' : 'migration',
        sourceHost: source,
        destHost: p.host,
        oldFlavor: i.flavor,
        newFlavor: i.flavor,
        ...(live ? {} : { powerOn: i.vmState === 'active' }),
      };
      const migrating =
        (await instances.updateInstance(
          db,
          i.id,
          { migration: JSON.stringify(migration) },
          now(),
        )) ?? started;
      await lifecycle.migrations.start(
        migrating,
        await record(live ? 'live-migration' : 'migrate'),
        a.block ?? 'auto',
      );
      return migrating;
    },

    async revertResize({ i, step, record }: ActionRun): Promise<Instance> {
      const m = i.migration;
      if (!m)
        throw new Conflict(`Instance ${i.id} has no resize to revert.`, 'instance_not_resized');
      const started = await step(i, 'revertResize');
      const actionId = await record('revertResize');
      if (m.kind === 'migration') await lifecycle.migrations.conclude(started, actionId, 'revert');
      else
        await lifecycle.cast(started, {
          op: 'revert_resize',
          action_id: actionId,
          flavor: m.oldFlavor,
        });
      return started;
    },

    async confirmResize({ i, step, record }: ActionRun): Promise<Instance> {
      const started = await step(i, 'confirmResize');
      const actionId = await record('confirmResize');
      // A cold migration's confirm removes the source's copy; a resize in place drops what a revert needed.
      if (i.migration?.kind === 'migration')
        await lifecycle.migrations.conclude(started, actionId, 'confirm');
      else await lifecycle.cast(started, { op: 'confirm_resize', action_id: actionId });
      return started;
    },
  };
}
