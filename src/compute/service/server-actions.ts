// Server actions (POST /servers/{id}/action and friends): each checks policy and the lock, starts
// its transition (a racing action gets a 409 naming the state), records an instance action, and
// casts the work to the instance's host. The dispatch is here with the power and lock actions; the
// resize/migrate and image families are in resize-actions.ts and image-actions.ts.
import type { AuthContext } from '../../platform/auth/context.ts';
import { BadRequest, Conflict, Unavailable } from '../../platform/errors.ts';
import * as instances from '../store/instances.ts';
import * as actions from '../store/instance-actions.ts';
import { agentClient } from '../agent/protocol.ts';
import type { InstanceAction } from '../states.ts';
import type { HostOp } from '../agent/protocol.ts';
import type { Instance } from '../model.ts';
import type { ActionDeps, ActionRun, Step, Undo } from './action-kit.ts';
import { createResizeActions } from './resize-actions.ts';
import { createImageActions } from './image-actions.ts';
import { createInstanceActionLog } from './instance-action-log.ts';

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

export function createServerActions(deps: ActionDeps) {
  const { db, policy, servers, lifecycle } = deps;
  const now = deps.now ?? Date.now;
  const isAdmin = (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {});
  const resizes = createResizeActions(deps);
  const imaged = createImageActions(deps);

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

  /** The action itself; every state change through `run.step`, so a failure after it is undone. */
  async function perform(run: ActionRun, a: ServerAction): Promise<ServerActionResult> {
    const { ctx, i, step, record } = run;
    const simple = SIMPLE[a.kind];
    if (simple) {
      const started = await step(i, simple.start);
      await lifecycle.cast(started, { op: simple.op, action_id: await record(simple.action) });
      return { instance: started };
    }
    switch (a.kind) {
      case 'reboot': {
        const started = await step(i, a.hard ? 'rebootHard' : 'reboot');
        await lifecycle.cast(started, {
          op: a.hard ? 'reboot_hard' : 'reboot',
          action_id: await record('reboot'),
        });
        return { instance: started };
      }
      case 'lock': {
        await record('lock');
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
        await record('unlock');
        return {
          instance: (await instances.updateInstance(
            db,
            i.id,
            { locked_by: null, locked_reason: null },
            now(),
          ))!,
        };
      }
      case 'rescue':
        return { instance: await imaged.rescue(run, a.imageId) };
      case 'shelve':
        return { instance: await imaged.shelve(run) };
      case 'unshelve':
        return { instance: await imaged.unshelve(run) };
      case 'rebuild':
        return { instance: await imaged.rebuild(run, a) };
      case 'createImage':
        return imaged.createImage(run, a);
      case 'resize':
        return { instance: await resizes.resize(run, a.flavorId) };
      case 'revertResize':
        return { instance: await resizes.revertResize(run) };
      case 'confirmResize':
        return { instance: await resizes.confirmResize(run) };
      case 'liveMigrate':
      case 'migrate':
        return { instance: await resizes.migrate(run, a) };
      case 'resetState':
        return { instance: await step(i, a.state === 'active' ? 'resetToActive' : 'resetToError') };
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
      let logged = false;
      const step: Step = async (x, action, fields = {}) => {
        const t = await begin(x, action, fields);
        undo.push(async () => {
          await instances.transition(db, i.id, 'taskFailed', {}, now());
        });
        // Its task is set: the action has started, before any work is sent for it.
        if (!logged) lifecycle.noteStart(t, a.kind, requestId);
        logged = true;
        return t;
      };
      const run: ActionRun = {
        ctx,
        i,
        step,
        undo,
        record: (action) => record(ctx, i, action, requestId),
        isAdmin: () => isAdmin(ctx),
      };
      try {
        return await perform(run, a);
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

    ...createInstanceActionLog(deps),
  };
}

export type ServerActions = ReturnType<typeof createServerActions>;
