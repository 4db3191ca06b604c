// What every server action family (server-actions.ts, resize-actions.ts, image-actions.ts) is given:
// the shared dependencies, and one action under way with its caller, its server, the `step` that
// changes state (undone if a later step fails) and the `record` of Nova's instance action.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import type { Bus } from '../../platform/bus/bus.ts';
import type * as instances from '../store/instances.ts';
import type { InstanceAction } from '../states.ts';
import type { Instance } from '../model.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { ServerService } from './servers.ts';
import type { QuotaService } from './quotas.ts';
import type { ImagePort } from './ports.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';

export interface ActionDeps {
  readonly db: DbHandle;
  readonly policy: Policy;
  readonly servers: ServerService;
  readonly lifecycle: Lifecycle;
  readonly scheduler: Scheduler;
  readonly quotas: QuotaService;
  readonly images: ImagePort;
  readonly bus: () => Bus | undefined;
  readonly now?: () => number;
}

export type Step = (
  i: Instance,
  action: InstanceAction,
  fields?: instances.InstanceFields,
) => Promise<Instance>;
export type Undo = (() => Promise<void>)[];

/** One action under way; every state change goes through `step`, so a failure after it is undone. */
export interface ActionRun {
  readonly ctx: AuthContext;
  readonly i: Instance;
  readonly step: Step;
  readonly undo: Undo;
  /** Records Nova's instance action `action` for this request; returns its id. */
  readonly record: (action: string) => Promise<string>;
  /** Whether the caller is an admin (context_is_admin). */
  readonly isAdmin: () => boolean;
}
