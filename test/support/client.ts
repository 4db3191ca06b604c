// A small HTTP helper over Fastify's inject() for integration tests: JSON in, JSON out, tokens.
import type { FastifyInstance } from 'fastify';
import { ADMIN_PASSWORD } from './cloud.ts';

export interface Res {
  readonly status: number;
  readonly body: any;
  readonly headers: Record<string, unknown>;
  readonly raw: Buffer;
}

export class Api {
  readonly app: FastifyInstance;
  token: string | undefined;
  /** The API's path prefix: '/identity/v3' by default, '/image' for Glance. */
  readonly prefix: string;
  constructor(app: FastifyInstance, token?: string, prefix = '/identity/v3') {
    this.app = app;
    this.token = token;
    this.prefix = prefix;
  }

  /** The same caller on another API (e.g. api.on('/image')). */
  on(prefix: string): Api {
    return new Api(this.app, this.token, prefix);
  }

  async req(
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res> {
    const raw = Buffer.isBuffer(body);
    const r = await this.app.inject({
      method: method as 'GET',
      url: `${this.prefix}${url}`,
      headers: {
        ...(this.token ? { 'x-auth-token': this.token } : {}),
        ...(body !== undefined
          ? { 'content-type': raw ? 'application/octet-stream' : 'application/json' }
          : {}),
        ...headers,
      },
      ...(body !== undefined
        ? { payload: raw || typeof body === 'string' ? (body as string) : JSON.stringify(body) }
        : {}),
    });
    let parsed: unknown = undefined;
    try {
      parsed = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      parsed = r.body;
    }
    return { status: r.statusCode, body: parsed, headers: r.headers, raw: r.rawPayload };
  }
  get(url: string) {
    return this.req('GET', url);
  }
  post(url: string, body: unknown) {
    return this.req('POST', url, body);
  }
  patch(url: string, body: unknown) {
    return this.req('PATCH', url, body);
  }
  put(url: string) {
    return this.req('PUT', url);
  }
  del(url: string) {
    return this.req('DELETE', url);
  }

  /** Password auth; returns a client holding the new token. */
  async login(user: string, password: string, scope?: unknown): Promise<Api> {
    const r = await this.req('POST', '/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password } },
        },
        ...(scope ? { scope } : {}),
      },
    });
    if (r.status !== 201)
      throw new Error(`login ${user} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return new Api(this.app, r.headers['x-subject-token'] as string);
  }
}

export async function adminApi(app: FastifyInstance): Promise<Api> {
  return new Api(app).login('admin', ADMIN_PASSWORD, {
    project: { name: 'admin', domain: { id: 'default' } },
  });
}

/** Makes a project and a user with `role` on it; returns the user's project-scoped client and the project id. */
export async function projectUser(
  admin: Api,
  name: string,
  role = 'member',
): Promise<{ api: Api; projectId: string; userId: string }> {
  const p = await admin.post('/projects', { project: { name, domain_id: 'default' } });
  if (p.status !== 201) throw new Error(`project ${name}: ${p.status} ${JSON.stringify(p.body)}`);
  const u = await admin.post('/users', {
    user: {
      name: `${name}-user`,
      domain_id: 'default',
      password: `${name}-pw`,
      default_project_id: p.body.project.id,
    },
  });
  if (u.status !== 201) throw new Error(`user ${name}: ${u.status} ${JSON.stringify(u.body)}`);
  const r = (await admin.get(`/roles?name=${role}`)).body.roles[0];
  await admin.put(`/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${r.id}`);
  const api = await new Api(admin.app).login(`${name}-user`, `${name}-pw`, {
    project: { id: p.body.project.id },
  });
  return { api, projectId: p.body.project.id, userId: u.body.user.id };
}
