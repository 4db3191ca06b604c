// Glance's fault bodies. Glance lets webob render its errors, negotiated on the Accept header: JSON
// ({"message", "code", "title"}) for application/json, HTML for */* and text/html. Where webob would
// fall back to text/plain (no Accept), we answer JSON so the message reaches the user: the SDK shows
// only the reason phrase of a plain-text error. A 401 comes from the token check, in Keystone's
// format, as keystonemiddleware answers in front of Glance.
import type { FastifyRequest } from 'fastify';
import { statusTitle, type Fault, type NegotiatedFault } from '../../platform/http/faults.ts';

export function renderImageFault(f: Fault): unknown {
  if (f.status === 401) return { error: { code: 401, title: 'Unauthorized', message: f.message } };
  return {
    message: f.message,
    code: `${f.status} ${statusTitle(f.status)}`,
    title: statusTitle(f.status),
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`);

/** The media type webob would pick: the first of text/html and application/json the client accepts best. */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.find((p) => p.trim().startsWith('q='));
    const q = qParam ? Number(qParam.split('=')[1]) : 1;
    if (range === 'text/html' || range === 'text/*' || range === '*/*')
      html = Math.max(html, range === 'text/html' ? q : q - 0.001);
    if (range === 'application/json' || range === 'application/*' || range === '*/*')
      json = Math.max(json, range === 'application/json' ? q : q - 0.002);
  }
  return html > 0 && html >= json;
}

export function negotiateImageFault(
  f: Fault,
  request: FastifyRequest,
): NegotiatedFault | undefined {
  if (f.status === 401 || !prefersHtml(request.headers.accept)) return undefined;
  const status = `${f.status} ${statusTitle(f.status)}`;
  return {
    type: 'text/html; charset=UTF-8',
    body: `<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n  ${escapeHtml(f.message)}<br /><br />\n\n\n\n </body>\n</html>`,
  };
}
