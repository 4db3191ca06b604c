// A small HTTP helper over Fastify's inject() for integration tests: JSON in, JSON out, tokens.
import type { FastifyInstance } from 'fastify';
import { ADMIN_PASSWORD } from './cloud.ts';

export interface Res { readonly status: number; readonly body: any; readonly headers: Record<string, unknown>; }

export class Api {
  readonly app: FastifyInstance;
  token: string | undefined;
  constructor(app: FastifyInstance, token?: string) { this.app = app; this.token = token; }

  async req(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
    const r = await this.app.inject({
      method: method as 'GET', url: `/identity/v3${url}`,
      headers: { ...(this.token ? { 'x-auth-token': this.token } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    let parsed: unknown = undefined;
    try { parsed = r.body ? JSON.parse(r.body) : undefined; } catch { parsed = r.body; }
    return { status: r.statusCode, body: parsed, headers: r.headers };
  }
  get(url: string) { return this.req('GET', url); }
  post(url: string, body: unknown) { return this.req('POST', url, body); }
  patch(url: string, body: unknown) { return this.req('PATCH', url, body); }
  put(url: string) { return this.req('PUT', url); }
  del(url: string) { return this.req('DELETE', url); }

  /** Password auth; returns a client holding the new token. */
  async login(user: string, password: string, scope?: unknown): Promise<Api> {
    const r = await this.req('POST', '/auth/tokens', {
      auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, ...(scope ? { scope } : {}) },
    });
    if (r.status !== 201) throw new Error(`login ${user} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return new Api(this.app, r.headers['x-subject-token'] as string);
  }
}

export async function adminApi(app: FastifyInstance): Promise<Api> {
  return new Api(app).login('admin', ADMIN_PASSWORD, { project: { name: 'admin', domain: { id: 'default' } } });
}
