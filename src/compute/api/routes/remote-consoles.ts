// Remote consoles: POST /servers/{id}/remote-consoles (2.6+) and the older os-getVNCConsole action
// (2.1-2.5, what clients send at the default microversion; server-actions.ts hands it here).
import type { ComputeService } from '../../index.ts';
import type { AuthContext } from '../../../platform/auth/context.ts';
import { BadRequest, NotFound } from '../../../platform/errors.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import type { Api } from '../../../platform/http/mount.ts';
import { params, s } from '../../../platform/http/schema.ts';

const required = (field: string) =>
  new BadRequest(
    `Invalid input for field/attribute ${field}. '${field}' is a required property.`,
    'console_invalid',
  );
const text = (o: Readonly<Record<string, unknown>>, field: string): string => {
  const v = o[field];
  if (v === undefined) throw required(field);
  if (typeof v !== 'string')
    throw new BadRequest(
      `Invalid input for field/attribute ${field}. It must be a string.`,
      'console_invalid',
    );
  return v;
};

/** {"os-getVNCConsole": {"type": "novnc"}} → {"console": {"type", "url"}}; gone from 2.6, as in Nova. */
export async function vncConsoleAction(
  compute: ComputeService,
  auth: AuthContext,
  serverId: string,
  arg: Readonly<Record<string, unknown>>,
  mv: Microversion,
): Promise<{ console: { type: string; url: string } }> {
  if (mv.atLeast('2.6'))
    throw new NotFound(
      'os-getVNCConsole is gone from microversion 2.6: use POST /servers/{server_id}/remote-consoles.',
      'console_action_removed',
    );
  const c = await compute.consoles.create(auth, serverId, 'vnc', text(arg, 'type'));
  return { console: { type: c.type, url: c.url } };
}

// protocol and type are checked by text() and the console service, with Nova's messages.
const remoteConsoleBody = s.object(
  { remote_console: s.record(s.unknown()) },
  { required: ['remote_console'] },
);

export function remoteConsoleRoutes(app: Api, compute: ComputeService): void {
  const create = { schema: { params: params('id'), body: remoteConsoleBody } };
  app.post('/servers/:id/remote-consoles', create, async (request) => {
    if (!request.microversion.atLeast('2.6'))
      throw new NotFound(
        'The resource could not be found: remote-consoles needs microversion 2.6 or later.',
        'microversion_too_low',
      );
    const rc = request.body.remote_console;
    const c = await compute.consoles.create(
      request.auth,
      request.params.id,
      text(rc, 'protocol'),
      text(rc, 'type'),
    );
    return { remote_console: { protocol: c.protocol, type: c.type, url: c.url } };
  });
}
