// Server actions (POST /servers/{id}/action and friends): each checks policy and the lock, starts
// its transition (a racing action gets a 409 naming the state), records an instance action, and
// casts the work to the instance's host. The agent's result completes it (lifecycle.ts).
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Bus } from '../../platform/bus/bus.ts';
import { BadRequest, Conflict, Forbidden, NotFound, Unavailable } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as flavorStore from '../store/flavors.ts';
import * as actions from '../store/instance-actions.ts';
import { flavorDiskGb } from '../scheduler/host-selection.ts';
import { releaseAllocations, setAllocation } from '../store/claims.ts';
import { getHost } from '../store/hosts.ts';
import { agentClient } from '../agent/protocol.ts';
import type { InstanceAction } from '../states.ts';
import type { HostOp } from '../agent/protocol.ts';
import type { Instance, InstanceFlavor, Migration } from '../model.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { ServerService } from './servers.ts';
import type { QuotaService } from './quotas.ts';
import type { ImagePort } from './ports.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';

/** A parsed server action: the API turns each body into one of these (Nova's action names). */
export type ServerAction =
  | { readonly kind: 'stop' }
  | { readonly kind: 'start' }
  | { readonly kind: 'reboot'; readonly hard: boolean }
  | { readonly kind: 'pause' }
  | { readonly kind: 'unpause' }
  | { readonly kind: 'suspend' }
  | { readonly kind: 'resume' }
  | { readonly kind: 'lock'; readonly reason: string | null }
  | { readonly kind: 'unlock' }
  | { readonly kind: 'rescue'; readonly imageId: string | null }
  | { readonly kind: 'unrescue' }
  | { readonly kind: 'shelve' }
  | { readonly kind: 'shelveOffload' }
  | { readonly kind: 'unshelve' }
  | {
      readonly kind: 'rebuild';
      readonly imageId: string;
      readonly name: string | null;
      readonly metadata: Readonly<Record<string, string>> | null;
      readonly description?: string | null;
    }
  | { readonly kind: 'resize'; readonly flavorId: string }
  | { readonly kind: 'confirmResize' }
  | { readonly kind: 'revertResize' }
  | {
      readonly kind: 'createImage';
      readonly name: string;
      readonly metadata: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'resetState'; readonly state: 'active' | 'error' }
  | { readonly kind: 'liveMigrate'; readonly host: string | null; readonly block: boolean | 'auto' }
  | { readonly kind: 'migrate'; readonly host: string | null };

export type ServerActionResult = { readonly instance: Instance; readonly imageId?: string };

/** The simple ones: a policy, a transition, host work and Nova's instance-action name. */
const SIMPLE: Readonly<
  Record<string, { rule: string; start: InstanceAction; op: HostOp; action: string }>
> = {
  stop: { rule: 'os_compute_api:servers:stop', start: 'stop', op: 'stop', action: 'stop' },
  start: { rule: 'os_compute_api:servers:start', start: 'start', op: 'start', action: 'start' },
  pause: {
    rule: 'os_compute_api:os-pause-server:pause',
    start: 'pause',
    op: 'pause',
    action: 'pause',
  },
  unpause: {
    rule: 'os_compute_api:os-pause-server:unpause',
    start: 'unpause',
    op: 'unpause',
    action: 'unpause',
  },
  suspend: {
    rule: 'os_compute_api:os-suspend-server:suspend',
    start: 'suspend',
    op: 'suspend',
    action: 'suspend',
  },
  resume: {
    rule: 'os_compute_api:os-suspend-server:resume',
    start: 'resume',
    op: 'resume',
    action: 'resume',
  },
  unrescue: {
    rule: 'os_compute_api:os-unrescue',
    start: 'unrescue',
    op: 'unrescue',
    action: 'unrescue',
  },
  shelveOffload: {
    rule: 'os_compute_api:os-shelve:shelve_offload',
    start: 'shelveOffload',
    op: 'shelve_offload',
    action: 'shelveOffload',
  },
};

type Step = (
  i: Instance,
  action: InstanceAction,
  fields?: instances.InstanceFields,
) => Promise<Instance>;
type Undo = (() => Promise<void>)[];

const OTHER_RULES: Readonly<Record<string, string>> = {
  revertResize: 'os_compute_api:servers:revert_resize',
  confirmResize: 'os_compute_api:servers:confirm_resize',
  reboot: 'os_compute_api:servers:reboot',
  lock: 'os_compute_api:os-lock-server:lock',
  unlock: 'os_compute_api:os-lock-server:unlock',
  shelve: 'os_compute_api:os-shelve:shelve',
  rescue: 'os_compute_api:os-rescue',
  unshelve: 'os_compute_api:os-shelve:unshelve',
  rebuild: 'os_compute_api:servers:rebuild',
  resize: 'os_compute_api:servers:resize',
  createImage: 'os_compute_api:servers:create_image',
  resetState: 'os_compute_api:os-admin-actions:reset_state',
  liveMigrate: 'os_compute_api:os-migrate-server:migrate_live',
  migrate: 'os_compute_api:os-migrate-server:migrate',
};

export function createServerActions(deps: {
  db: DbHandle;
  policy: Policy;
  servers: ServerService;
  lifecycle: Lifecycle;
  scheduler: Scheduler;
  quotas: QuotaService;
  images: ImagePort;
  bus: () => Bus | undefined;
  now?: () => number;
}) {
  const { db, policy, servers, lifecycle, scheduler, quotas, images } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});

  function checkLock(ctx: AuthContext, i: Instance): void {
    if (i.lockedBy !== null && !isAdmin(ctx))
      throw new Conflict(`Instance ${i.id} is locked`, 'instance_locked');
  }

  async function record(
    ctx: AuthContext,
    i: Instance,
    action: string,
    requestId: string,
  ): Promise<string> {
    const id = crypto.randomUUID();
    await actions.startActions(db, [
      {
        id,
        instanceId: i.id,
        requestId,
        action,
        projectId: i.projectId,
        userId: ctx.user.id,
        startTime: now(),
      },
    ]);
    return id;
  }

  async function begin(
    i: Instance,
    start: InstanceAction,
    fields: instances.InstanceFields = {},
  ): Promise<Instance> {
    const t = await instances.transition(db, i.id, start, fields, now());
    if (!t) throw new Conflict(`Instance ${i.id} was deleted meanwhile.`, 'instance_gone');
    return t;
  }

  async function resize(
    ctx: AuthContext,
    i: Instance,
    flavorId: string,
    requestId: string,
    step: Step,
    undo: Undo,
  ): Promise<Instance> {
    const f = await flavorStore.getFlavor(db, flavorId);
    const project = i.projectId;
    if (!f || (!f.isPublic && !isAdmin(ctx) && !(await flavorStore.hasAccess(db, f.id, project))))
      throw new BadRequest(`Flavor ${flavorId} could not be found.`, 'flavor_not_found');
    if (f.id === i.flavor.id)
      throw new BadRequest('When resizing, instances must change flavor!', 'resize_same_flavor');
    if (f.disabled)
      throw new BadRequest(`Flavor ${flavorId} is disabled and cannot be used.`, 'flavor_disabled');
    if (f.diskGb < i.flavor.rootGb && f.diskGb !== 0)
      throw new BadRequest(
        'Resize to a flavor with a smaller disk is not allowed.',
        'resize_smaller_disk',
      );
    const next: InstanceFlavor = {
      id: f.id,
      name: f.name,
      vcpus: f.vcpus,
      memoryMb: f.ramMb,
      rootGb: f.diskGb,
      ephemeralGb: f.ephemeralGb,
      swapMb: f.swapMb,
      extraSpecs: f.extraSpecs,
    };
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
    const prep = await step(i, 'resize');
    const actionId = await record(ctx, i, 'resize', requestId);
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
      migration: JSON.stringify({
        sourceHost: i.host,
        destHost: i.host,
        oldFlavor: i.flavor,
        newFlavor: next,
      }),
    });
    await lifecycle.cast(migrating, { op: 'resize', action_id: actionId, flavor: next });
    return migrating;
  }

  /**
   * os-migrateLive and migrate (cold): a destination chosen by the scheduler (or the admin's host,
   * which must pass its filters too) and claimed, recorded on the instance with the task, and the
   * migration started there. Refusals the caller can act on come back at once as 400s (no such
   * host, the server's own, no room), as Nova's.
   */
  async function migrate(
    ctx: AuthContext,
    i: Instance,
    a: { kind: 'liveMigrate' | 'migrate'; host: string | null; block?: boolean | 'auto' },
    requestId: string,
    step: Step,
    undo: Undo,
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
    const started = await step(i, live ? 'migrate' : 'resize');
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
      (await instances.updateInstance(db, i.id, { migration: JSON.stringify(migration) }, now())) ??
      started;
    await lifecycle.migrations.start(
      migrating,
      await record(ctx, i, live ? 'live-migration' : 'migrate', requestId),
      a.block ?? 'auto',
    );
    return migrating;
  }

  /** The action itself; every state change through `step`, so a failure after it is undone. */
  async function perform(
    ctx: AuthContext,
    i: Instance,
    a: ServerAction,
    requestId: string,
    step: Step,
    undo: Undo,
  ): Promise<ServerActionResult> {
    const simple = SIMPLE[a.kind];
    if (simple) {
      const started = await step(i, simple.start);
      await lifecycle.cast(started, {
        op: simple.op,
        action_id: await record(ctx, i, simple.action, requestId),
      });
      return { instance: started };
    }
    switch (a.kind) {
      case 'reboot': {
        const started = await step(i, a.hard ? 'rebootHard' : 'reboot');
        await lifecycle.cast(started, {
          op: a.hard ? 'reboot_hard' : 'reboot',
          action_id: await record(ctx, i, 'reboot', requestId),
        });
        return { instance: started };
      }
      case 'lock': {
        await record(ctx, i, 'lock', requestId);
        return {
          instance: (await instances.updateInstance(
            db,
            i.id,
            {
              locked_by: isAdmin(ctx) && ctx.user.id !== i.userId ? 'admin' : 'owner',
              locked_reason: a.reason,
            },
            now(),
          ))!,
        };
      }
      case 'unlock': {
        if (i.lockedBy === 'admin' && !isAdmin(ctx))
          policy.enforce(
            'os_compute_api:os-lock-server:unlock:unlock_override',
            ctx.credentials,
            servers.instanceTarget(i),
          );
        await record(ctx, i, 'unlock', requestId);
        return {
          instance: (await instances.updateInstance(
            db,
            i.id,
            { locked_by: null, locked_reason: null },
            now(),
          ))!,
        };
      }
      case 'rescue': {
        const imageId = a.imageId ?? i.imageId;
        const img = imageId === null ? undefined : await images.find(ctx, imageId);
        if (!img || img.status !== 'active')
          throw new BadRequest(
            `Rescue image ${imageId ?? '(none)'} could not be found or is not active.`,
            'image_not_found',
          );
        const started = await step(i, 'rescue');
        await lifecycle.cast(started, {
          op: 'rescue',
          action_id: await record(ctx, i, 'rescue', requestId),
          image: {
            id: img.id,
            disk_format: img.diskFormat ?? 'raw',
            checksum: img.checksum,
            properties: img.properties,
          },
        });
        return { instance: started };
      }
      case 'shelve': {
        // As Nova: the root disk becomes a private image (<name>-shelved) the instance comes back from.
        const started = await step(i, 'shelve');
        const imageId = await images.createSnapshot(ctx, {
          name: `${i.name}-shelved`,
          properties: {
            instance_uuid: i.id,
            image_type: 'snapshot',
            ...(i.imageId ? { base_image_ref: i.imageId } : {}),
            user_id: ctx.user.id,
          },
        });
        undo.push(() => images.removeOwn(imageId));
        const withImage =
          (await instances.updateInstance(db, i.id, { shelved_image_id: imageId }, now())) ??
          started;
        await lifecycle.cast(withImage, {
          op: 'shelve',
          action_id: await record(ctx, i, 'shelve', requestId),
          snapshot_image_id: imageId,
          timeout_s: 60,
        });
        return { instance: withImage };
      }
      case 'unshelve': {
        const started = await step(i, 'unshelve');
        await lifecycle.placeAndCast(
          started,
          'unshelve',
          await record(ctx, i, 'unshelve', requestId),
        );
        return { instance: started };
      }
      case 'rebuild': {
        const img = await images.find(ctx, a.imageId);
        if (!img) throw new BadRequest(`Image ${a.imageId} could not be found.`, 'image_not_found');
        if (img.status !== 'active')
          throw new BadRequest(`Image ${a.imageId} is not active.`, 'image_not_active');
        const started = await step(i, 'rebuild', { image_id: img.id });
        const updated =
          (await instances.updateInstance(
            db,
            i.id,
            {
              ...(a.name !== null ? { name: a.name } : {}),
              ...(a.metadata !== null ? { metadata: JSON.stringify(a.metadata) } : {}),
              ...(a.description !== undefined ? { description: a.description } : {}),
            },
            now(),
          )) ?? started;
        await lifecycle.cast(updated, {
          op: 'rebuild',
          action_id: await record(ctx, i, 'rebuild', requestId),
          instance: await lifecycle.wireInstance(updated),
        });
        return { instance: updated };
      }
      case 'resize':
        return { instance: await resize(ctx, i, a.flavorId, requestId, step, undo) };
      case 'revertResize': {
        const m = i.migration;
        if (!m)
          throw new Conflict(`Instance ${i.id} has no resize to revert.`, 'instance_not_resized');
        const started = await step(i, 'revertResize');
        const actionId = await record(ctx, i, 'revertResize', requestId);
        if (m.kind === 'migration')
          await lifecycle.migrations.conclude(started, actionId, 'revert');
        else
          await lifecycle.cast(started, {
            op: 'revert_resize',
            action_id: actionId,
            flavor: m.oldFlavor,
          });
        return { instance: started };
      }
      case 'createImage': {
        const started = await step(i, 'snapshot');
        const imageId = await images.createSnapshot(ctx, {
          name: a.name,
          properties: {
            ...a.metadata,
            instance_uuid: i.id,
            image_type: 'snapshot',
            ...(i.imageId ? { base_image_ref: i.imageId } : {}),
            user_id: ctx.user.id,
          },
        });
        await lifecycle.cast(started, {
          op: 'snapshot',
          action_id: await record(ctx, i, 'createImage', requestId),
          snapshot_image_id: imageId,
        });
        return { instance: started, imageId };
      }
      case 'resetState':
        return { instance: await step(i, a.state === 'active' ? 'resetToActive' : 'resetToError') };
      case 'liveMigrate':
      case 'migrate':
        return { instance: await migrate(ctx, i, a, requestId, step, undo) };
      case 'confirmResize': {
        const started = await step(i, 'confirmResize');
        const actionId = await record(ctx, i, 'confirmResize', requestId);
        // A cold migration's confirm removes the source's copy; a resize in place drops what a revert needed.
        if (i.migration?.kind === 'migration')
          await lifecycle.migrations.conclude(started, actionId, 'confirm');
        else await lifecycle.cast(started, { op: 'confirm_resize', action_id: actionId });
        return { instance: started };
      }
      default:
        throw new BadRequest(`Unknown server action ${a.kind}.`, 'server_action_unknown');
    }
  }

  return {
    async act(
      ctx: AuthContext,
      id: string,
      a: ServerAction,
      requestId: string,
    ): Promise<ServerActionResult> {
      const rule = SIMPLE[a.kind]?.rule ?? OTHER_RULES[a.kind]!;
      const i = await servers.visible(ctx, id, rule);
      if (a.kind !== 'lock' && a.kind !== 'unlock' && a.kind !== 'resetState') checkLock(ctx, i);
      if (i.host === null && !['lock', 'unlock', 'resetState', 'unshelve'].includes(a.kind)) {
        throw new Conflict(
          `Cannot '${a.kind}' instance ${i.id}: it is not on a host (vm_state ${i.vmState}).`,
          'instance_not_placed',
        );
      }
      // What to undo when a step after the state change fails (no bus, no image quota, ...), so the
      // server never stays in a task nobody is doing.
      const undo: Undo = [];
      const step: Step = async (x, action, fields = {}) => {
        const t = await begin(x, action, fields);
        undo.push(async () => {
          await instances.transition(db, i.id, 'taskFailed', {}, now());
        });
        return t;
      };
      try {
        return await perform(ctx, i, a, requestId, step, undo);
      } catch (e) {
        for (const u of undo.reverse()) await u().catch(() => undefined);
        throw e;
      }
    },

    /** The last `lines` lines of the guest's console (os-getConsoleOutput), from its host. */
    async consoleOutput(ctx: AuthContext, id: string, lines: number | null): Promise<string> {
      const i = await servers.visible(ctx, id, 'os_compute_api:os-console-output');
      const bus = deps.bus();
      if (i.host === null || !bus)
        throw new Conflict(`Instance ${i.id} is not running on a host yet.`, 'instance_not_ready');
      let output: string;
      try {
        ({ output } = await agentClient(bus, i.host).call('instance.console', {
          uuid: i.id,
          max_bytes: 1 << 20,
        }));
      } catch (e) {
        throw new Unavailable(
          `The console of instance ${i.id} could not be read from host ${i.host}: ${(e as Error).message}`,
          'console_unavailable',
        );
      }
      if (lines === null) return output;
      const all = output.split('\n');
      const trailing = all.at(-1) === '' ? all.pop() : undefined;
      return [
        ...all.slice(Math.max(0, all.length - lines)),
        ...(trailing !== undefined ? [''] : []),
      ].join('\n');
    },

    /** os-instance-actions, newest first, with Nova's paging by request id. */
    async listActions(
      ctx: AuthContext,
      id: string,
      q: { limit: number; marker?: string; changesSince?: number; changesBefore?: number },
    ): Promise<actions.InstanceAction[]> {
      const i = await servers.visible(ctx, id, 'os_compute_api:os-instance-actions:list');
      let before: actions.InstanceAction | undefined;
      if (q.marker !== undefined) {
        before = (await actions.getActionByRequest(db, i.id, q.marker))?.action;
        if (!before)
          throw new BadRequest(`Marker ${q.marker} could not be found.`, 'action_bad_marker');
      }
      return actions.listActions(db, i.id, {
        limit: q.limit,
        ...(before ? { before } : {}),
        ...(q.changesSince !== undefined ? { changesSince: q.changesSince } : {}),
        ...(q.changesBefore !== undefined ? { changesBefore: q.changesBefore } : {}),
      });
    },

    /** An action with its events; `privileged` says whether the caller may see events before 2.51 and their tracebacks. */
    async getAction(
      ctx: AuthContext,
      id: string,
      requestId: string,
    ): Promise<{
      action: actions.InstanceAction;
      events: actions.InstanceActionEvent[];
      privileged: boolean;
    }> {
      const i = await servers.visible(ctx, id, 'os_compute_api:os-instance-actions:show');
      const found = await actions.getActionByRequest(db, i.id, requestId);
      if (!found)
        throw new NotFound(
          `Action for request_id ${requestId} on instance ${i.id} not found`,
          'action_not_found',
        );
      return {
        ...found,
        privileged: policy.check(
          'os_compute_api:os-instance-actions:events',
          ctx.credentials,
          servers.instanceTarget(i),
        ),
      };
    },
  };
}

export type ServerActions = ReturnType<typeof createServerActions>;
