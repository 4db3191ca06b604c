// Remote consoles (Nova's os-remote-consoles): a URL to the guest's screen through the console
// proxy of the instance's host, carrying a token. The token is random; only its hash is stored, and
// the host's proxy checks it through the conductor (check) before piping each websocket to the
// guest's VNC server: as Nova's, it reconnects (a page reload) until it expires or the instance goes.
import { randomBytes } from 'node:crypto';
import type { DbHandle } from '../../platform/db/database.ts';
import type { AuthContext } from '../../platform/auth/context.ts';
import { BadRequest, Conflict } from '../../platform/errors.ts';
import * as tokens from '../store/console-tokens.ts';
import * as hostStore from '../store/hosts.ts';
import type { ServerService } from './servers.ts';

/** Nova's [consoleauth] token_ttl. */
export const CONSOLE_TOKEN_TTL_MS = 600_000;
/** What this cloud serves, per protocol (Nova's remote-consoles protocol → types). */
const SUPPORTED: Readonly<Record<string, readonly string[]>> = { vnc: ['novnc'] };
/** Guests with a screen to show: those running on their host (paused ones still have one). */
const READY_STATES = new Set(['active', 'paused', 'rescued', 'resized']);

export interface ConsoleUrl {
  readonly protocol: 'vnc';
  readonly type: 'novnc';
  readonly url: string;
}

export function createConsoles(deps: { db: DbHandle; servers: ServerService; now?: () => number }) {
  const { db, servers } = deps;
  // Read at each call (not Date.now captured once), so that a test's mocked clock reaches it.
  const now = deps.now ?? (() => Date.now());
  return {
    /** A console URL for the server, valid for 10 minutes, as many connections as wanted. */
    async create(
      ctx: AuthContext,
      id: string,
      protocol: string,
      type: string,
    ): Promise<ConsoleUrl> {
      if (!SUPPORTED[protocol]?.includes(type)) {
        throw new BadRequest(
          `Unavailable console type ${type} for protocol ${protocol}: this cloud serves only protocol vnc with type novnc.`,
          'console_type_unavailable',
        );
      }
      // As every server action (and Nova, whose instance lookup is project-scoped): another
      // project's server is not found; the policy is checked against the server's project.
      const i = await servers.visible(ctx, id, 'os_compute_api:os-remote-consoles');
      if (i.host === null || !READY_STATES.has(i.vmState) || i.taskState === 'deleting') {
        throw new Conflict(
          `Instance ${i.id} is not ready (vm_state ${i.vmState}): a console needs a server running on a host.`,
          'instance_not_ready',
        );
      }
      const host = await hostStore.getHost(db, i.host);
      const base = host?.console?.url ?? null;
      if (base === null) {
        const why = host?.console?.note ?? 'its agent reported no console proxy';
        throw new BadRequest(
          `Unavailable console type novnc on host ${i.host}: ${why}.`,
          'console_type_unavailable',
        );
      }
      const token = randomBytes(32).toString('base64url');
      await tokens.addToken(
        db,
        { token, instanceId: i.id, host: i.host, expiresAt: now() + CONSOLE_TOKEN_TTL_MS },
        now(),
      );
      // noVNC's vnc_lite.html joins host, port and `path` into the websocket URL; `path` is relative
      // to the page's origin, so the base's path prefix goes into it too.
      const u = new URL(base);
      const prefix = u.pathname.replace(/^\/+|\/+$/g, '');
      const path = `${prefix === '' ? '' : `${prefix}/`}websockify?token=${token}`;
      return {
        protocol: 'vnc',
        type: 'novnc',
        url: `${base.replace(/\/+$/, '')}/vnc_lite.html?path=${encodeURIComponent(path)}`,
      };
    },

    /** The proxy of `host` presents a token: the instance it opens, or why not. */
    check: (token: string, host: string) => tokens.checkToken(db, token, host, now()),

    /** Deletes expired tokens (the conductor runs it). */
    sweep: () => tokens.sweepTokens(db, now()),
  };
}

export type Consoles = ReturnType<typeof createConsoles>;
