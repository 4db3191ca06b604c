// POST /servers/{id}/action (one key per body, as Nova's action names), the console output, and
// /servers/{id}/os-instance-actions (the action log with its events).
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Api } from '../../../platform/http/mount.ts';
import { first, params, query, s, type Static } from '../../../platform/http/schema.ts';
import type { ComputeService } from '../../index.ts';
import type { Microversion } from '../../../platform/http/microversion.ts';
import { BadRequest } from '../../../platform/errors.ts';
import type { ServerAction } from '../../service/server-actions.ts';
import { parseMetadata } from '../server-body.ts';
import { serverView } from '../server-views.ts';
import { novaTime, parseNovaTime, type Links } from '../views.ts';
import { vncConsoleAction } from './remote-consoles.ts';

const arg = s.record(s.unknown());
/** Actions whose argument may be null ("lock": null) or an object of options. */
const optionalArg = s.nullable(arg);
/**
 * An action body: one key (counted by parseAction, with Nova's message), the action's name, whose
 * argument has the shape given here; its fields' rules are parseAction's. Unknown names pass the
 * schema and get Nova's "not supported".
 */
const actionBody = s.object({
  reboot: arg,
  lock: optionalArg,
  rescue: optionalArg,
  rebuild: arg,
  resize: arg,
  createImage: arg,
  'os-resetState': arg,
  'os-migrateLive': arg,
  migrate: optionalArg,
  'os-getConsoleOutput': optionalArg,
  'os-getVNCConsole': arg,
});
type ActionBody = Static<typeof actionBody>;

const password = () => randomBytes(9).toString('base64url');
/** The adminPass the caller chose for a rescue or rebuild, if any (Nova returns it as given). */
const suppliedPassword = (o: Readonly<Record<string, unknown>> | null | undefined) => {
  const p = o?.['adminPass'];
  return typeof p === 'string' && p !== '' ? p : undefined;
};
const bad = (field: string, why: string) =>
  new BadRequest(`Invalid input for field/attribute ${field}. ${why}`, 'server_action_invalid');

function imageRef(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw bad(field, 'An image reference is required.');
  return v.split('/').at(-1)!;
}

/** The body's one action, parsed; `null` for the console output (a read, not an action). */
function parseAction(
  b: ActionBody,
  mv: Microversion,
): ServerAction | { kind: 'console'; lines: number | null } {
  const keys = Object.keys(b);
  if (keys.length !== 1)
    throw new BadRequest(
      'There is either no action or more than one action in the request body.',
      'server_action_invalid',
    );
  const key = keys[0]!;
  // In each case below the body's one key is that action's, so its argument is present.
  switch (key) {
    case 'os-stop':
      return { kind: 'stop' };
    case 'os-start':
      return { kind: 'start' };
    case 'pause':
    case 'unpause':
    case 'suspend':
    case 'resume':
    case 'unrescue':
    case 'shelve':
    case 'shelveOffload':
    case 'confirmResize':
    case 'revertResize':
      return { kind: key };
    case 'unshelve':
      return { kind: 'unshelve' };
    case 'reboot': {
      const t = b.reboot!['type'];
      if (typeof t !== 'string' || !['SOFT', 'HARD'].includes(t.toUpperCase()))
        throw bad('type', 'It must be SOFT or HARD.');
      return { kind: 'reboot', hard: t.toUpperCase() === 'HARD' };
    }
    case 'lock': {
      const o = b.lock ?? {};
      const r = mv.atLeast('2.73') ? o['locked_reason'] : undefined;
      if (r !== undefined && (typeof r !== 'string' || r.length > 255))
        throw bad('locked_reason', 'It must be a string of at most 255 characters.');
      return { kind: 'lock', reason: (r as string | undefined) ?? null };
    }
    case 'unlock':
      return { kind: 'unlock' };
    case 'rescue': {
      const o = b.rescue ?? {};
      return {
        kind: 'rescue',
        imageId:
          o['rescue_image_ref'] === undefined
            ? null
            : imageRef(o['rescue_image_ref'], 'rescue_image_ref'),
      };
    }
    case 'rebuild': {
      const o = b.rebuild!;
      const name = o['name'];
      if (
        name !== undefined &&
        (typeof name !== 'string' || name.trim() === '' || name.length > 255)
      )
        throw bad('name', 'It must be 1-255 characters.');
      return {
        kind: 'rebuild',
        imageId: imageRef(o['imageRef'], 'imageRef'),
        name: (name as string | undefined) ?? null,
        metadata: o['metadata'] === undefined ? null : parseMetadata(o['metadata']),
        ...(mv.atLeast('2.19') && o['description'] !== undefined
          ? { description: o['description'] as string | null }
          : {}),
      };
    }
    case 'resize': {
      const f = b.resize!['flavorRef'];
      if (typeof f !== 'string' && typeof f !== 'number')
        throw bad('flavorRef', "'flavorRef' is a required property.");
      return { kind: 'resize', flavorId: String(f).split('/').at(-1)! };
    }
    case 'createImage': {
      const o = b.createImage!;
      if (typeof o['name'] !== 'string' || o['name'].trim() === '' || o['name'].length > 255)
        throw bad('name', 'An image name of 1-255 characters is required.');
      return {
        kind: 'createImage',
        name: o['name'],
        metadata: o['metadata'] === undefined ? {} : parseMetadata(o['metadata']),
      };
    }
    case 'os-resetState': {
      const state = b['os-resetState']!['state'];
      if (state !== 'active' && state !== 'error')
        throw bad('state', 'It must be active or error.');
      return { kind: 'resetState', state };
    }
    case 'os-migrateLive':
      return parseLiveMigrate(b['os-migrateLive']!, mv);
    case 'migrate': {
      // A body of null, or from 2.56 {"host": name-or-null}.
      const o = b.migrate ?? {};
      onlyProperties(o, mv.atLeast('2.56') ? ['host'] : [], 'migrate');
      return { kind: 'migrate', host: hostName(o['host'] ?? null) };
    }
    case 'os-getConsoleOutput': {
      const l = (b['os-getConsoleOutput'] ?? {})['length'];
      if (l === undefined || l === null || l === -1 || l === '-1')
        return { kind: 'console', lines: null };
      const n = typeof l === 'string' && /^\d+$/.test(l) ? Number(l) : l;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
        throw bad('length', 'It must be a non-negative integer or -1.');
      return { kind: 'console', lines: n };
    }
    default:
      throw new BadRequest(
        `Action ${key} is not supported by this cloud.`,
        'server_action_unknown',
      );
  }
}

/** Refuses properties an action's body may not have (Nova's additionalProperties: false). */
function onlyProperties(
  o: Readonly<Record<string, unknown>>,
  allowed: readonly string[],
  action: string,
): void {
  const extra = Object.keys(o).find((k) => !allowed.includes(k));
  if (extra !== undefined)
    throw new BadRequest(
      `Invalid input for field/attribute ${action}. Additional properties are not allowed ('${extra}' was unexpected)`,
      'server_action_invalid',
    );
}

/** A migration's target host: a name, or null for the scheduler's choice. */
function hostName(v: unknown): string | null {
  if (v !== null && (typeof v !== 'string' || v === '' || v.length > 255))
    throw bad('host', 'It must be a host name or null.');
  return v;
}

/** os-migrateLive's body by microversion: disk_over_commit until 2.24, block_migration 'auto' from 2.25, force from 2.30 to 2.67. */
function parseLiveMigrate(o: Readonly<Record<string, unknown>>, mv: Microversion): ServerAction {
  onlyProperties(
    o,
    [
      'host',
      'block_migration',
      ...(mv.atLeast('2.25') ? [] : ['disk_over_commit']),
      ...(mv.atLeast('2.30') && !mv.atLeast('2.68') ? ['force'] : []),
    ],
    'os-migrateLive',
  );
  for (const k of [
    'host',
    'block_migration',
    ...(mv.atLeast('2.25') ? [] : ['disk_over_commit']),
  ]) {
    if (!(k in o)) throw bad(k, `'${k}' is a required property.`);
  }
  const host = hostName(o['host']);
  const block = o['block_migration'];
  if (typeof block !== 'boolean' && !(mv.atLeast('2.25') && block === 'auto'))
    throw bad(
      'block_migration',
      mv.atLeast('2.25') ? "It must be true, false or 'auto'." : 'It must be a boolean.',
    );
  if (o['disk_over_commit'] !== undefined && typeof o['disk_over_commit'] !== 'boolean')
    throw bad('disk_over_commit', 'It must be a boolean.');
  if (o['force'] !== undefined && typeof o['force'] !== 'boolean')
    throw bad('force', 'It must be a boolean.');
  return { kind: 'liveMigrate', host, block };
}

export function serverActionRoutes(
  app: Api,
  compute: ComputeService,
  links: (request: FastifyRequest) => Links,
  base: (request: FastifyRequest) => string,
): void {
  const svc = compute.serverActions;

  const action = { schema: { params: params('id'), body: actionBody } };
  app.post('/servers/:id/action', action, async (request, reply) => {
    const mv = request.microversion;
    const vnc = request.body['os-getVNCConsole'];
    // A read, not an action on the instance's state (Nova's remote_consoles controller).
    if (Object.keys(request.body).length === 1 && vnc !== undefined)
      return vncConsoleAction(compute, request.auth, request.params.id, vnc, mv);
    const a = parseAction(request.body, mv);
    if (a.kind === 'console')
      return { output: await svc.consoleOutput(request.auth, request.params.id, a.lines) };
    const r = await svc.act(request.auth, request.params.id, a, request.id);
    switch (a.kind) {
      case 'confirmResize':
        return reply.code(204).send();
      case 'rescue':
        return reply
          .code(200)
          .send({ adminPass: suppliedPassword(request.body.rescue) ?? password() });
      case 'rebuild': {
        const view = serverView(r.instance, mv, links(request), {
          extended: compute.isAdmin(request.auth),
          hostStatus: null,
          flavorExtraSpecs: true,
        });
        return reply.code(202).send({
          server: { ...view, adminPass: suppliedPassword(request.body.rebuild) ?? password() },
        });
      }
      case 'createImage':
        if (mv.atLeast('2.45')) return reply.code(202).send({ image_id: r.imageId });
        // Before 2.45 the image is named in Location, as Nova's generate_image_url: the image endpoint + /images/<id>.
        return reply
          .code(202)
          .header(
            'location',
            `${base(request).replace(/\/compute\/v2\.1$/, '/image')}/images/${r.imageId}`,
          )
          .send();
      default:
        return reply.code(202).send();
    }
  });

  const actions = { schema: { params: params('id'), querystring: query } };
  app.get('/servers/:id/os-instance-actions', actions, async (request) => {
    const mv = request.microversion;
    const q = (k: string) => first(request.query[k]);
    const marker = q('marker');
    const limit = mv.atLeast('2.58') && q('limit') !== undefined ? Number(q('limit')) : 1000;
    if (!Number.isInteger(limit) || limit < 0)
      throw bad('limit', 'It must be a non-negative integer.');
    const time = (v: string | undefined) => (v === undefined ? undefined : parseNovaTime(v));
    const since = mv.atLeast('2.58') ? time(q('changes-since')) : undefined;
    const before = mv.atLeast('2.66') ? time(q('changes-before')) : undefined;
    if (Number.isNaN(since) || Number.isNaN(before))
      throw bad('changes-since', 'It must be an ISO 8601 time.');
    const list = await svc.listActions(request.auth, request.params.id, {
      limit: Math.min(limit, 1000),
      ...(mv.atLeast('2.58') && marker ? { marker } : {}),
      ...(since !== undefined ? { changesSince: since } : {}),
      ...(before !== undefined ? { changesBefore: before } : {}),
    });
    const body: Record<string, unknown> = { instanceActions: list.map((a) => actionView(a, mv)) };
    if (mv.atLeast('2.58') && list.length > 0 && list.length === limit) {
      body['links'] = [
        {
          rel: 'next',
          href: `${base(request)}/servers/${request.params.id}/os-instance-actions?limit=${limit}&marker=${list.at(-1)!.requestId}`,
        },
      ];
    }
    return body;
  });

  const oneAction = { schema: { params: params('id', 'requestId') } };
  app.get('/servers/:id/os-instance-actions/:requestId', oneAction, async (request) => {
    const mv = request.microversion;
    const found = await svc.getAction(request.auth, request.params.id, request.params.requestId);
    const v = actionView(found.action, mv);
    // Events: for admins always, for everyone from 2.51 (tracebacks stay with admins).
    if (found.privileged || mv.atLeast('2.51')) {
      v['events'] = found.events.map((e) => ({
        event: e.event,
        start_time: novaTime(e.startTime),
        finish_time: e.finishTime === null ? null : novaTime(e.finishTime),
        result: e.result,
        ...(found.privileged ? { traceback: e.traceback } : {}),
        ...(mv.atLeast('2.62')
          ? { hostId: e.host ?? '', ...(found.privileged ? { host: e.host ?? '' } : {}) }
          : {}),
        ...(mv.atLeast('2.84') && found.privileged
          ? { details: e.result === 'Error' ? e.traceback : null }
          : {}),
      }));
    }
    return { instanceAction: v };
  });
}

function actionView(
  a: {
    action: string;
    instanceId: string;
    message: string | null;
    projectId: string;
    requestId: string;
    startTime: number;
    userId: string;
    updatedAt: number;
  },
  mv: Microversion,
): Record<string, unknown> {
  return {
    action: a.action,
    instance_uuid: a.instanceId,
    message: a.message,
    project_id: a.projectId,
    request_id: a.requestId,
    // The cloud's own actions (the power sync's stops) have no user, as Nova's.
    start_time: novaTime(a.startTime),
    user_id: a.userId === '' ? null : a.userId,
    ...(mv.atLeast('2.58') ? { updated_at: novaTime(a.updatedAt) } : {}),
  };
}
