// What an agent's result says, in the forms the instance store and the action events take: the
// power state as Nova's code, and the outcome of the step. Shared by the lifecycle and the migrations.
import { POWER_STATE_CODES } from '../states.ts';
import type { HostWorkResult } from '../agent/protocol.ts';

/** Nova's power_state code for what the agent reported (nostate when it could not tell). */
export const powerCode = (p: HostWorkResult['power_state']): number =>
  p === null ? POWER_STATE_CODES.nostate : POWER_STATE_CODES[p];

/** The power_state field to record, when the agent reported one. */
export const reportedPower = (r: HostWorkResult): { power_state?: number } =>
  r.power_state !== null ? { power_state: powerCode(r.power_state) } : {};

/** How the step ended, for its action event. */
export const outcomeOf = (r: HostWorkResult): { ok: boolean; message?: string } => ({
  ok: r.ok,
  ...(r.message !== undefined ? { message: r.message } : {}),
});
