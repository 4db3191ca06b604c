// Nova's fault body: {"<name>": {"code": <status>, "message": "..."}}, the name chosen by status
// as nova.api.openstack.wsgi.Fault does. A 401 comes from the token check in Keystone's format, as
// keystonemiddleware answers in front of Nova.
import type { Fault } from '../../platform/http/faults.ts';

const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export function renderComputeFault(f: Fault): unknown {
  if (f.status === 401) return { error: { code: 401, title: 'Unauthorized', message: f.message } };
  return { [FAULT_NAMES[f.status] ?? 'computeFault']: { code: f.status, message: f.message } };
}
