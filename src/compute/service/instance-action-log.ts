// os-instance-actions: the record of what was done to a server (newest first, paged by request
// id) and one action with its events, read back for its owner and for admins.
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import type { Policy } from '../../platform/policy/policy.ts';
import { BadRequest, NotFound } from '../../platform/errors.ts';
import * as actions from '../store/instance-actions.ts';
import type { ServerService } from './servers.ts';

export function createInstanceActionLog(deps: {
  db: DbHandle;
  policy: Policy;
  servers: ServerService;
}) {
  const { db, policy, servers } = deps;

  return {
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
