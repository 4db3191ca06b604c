// Issue 15, item 17, across real processes: two `nubes serve api` replicas share one database (a
// SQLite file with no bus between them, and PostgreSQL with RabbitMQ), each remembering the tokens
// it validated; a revoke, a role unassignment, a user disabled and a password changed on one are
// refused by the other on the very next request, with no wait.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { freshBackends } from '../support/databases.ts';

const PASSWORD = 'token-cache-admin-pw';
const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];

async function call(
  url: string,
  method: string,
  path: string,
  opts: { token?: string; subject?: string; body?: unknown } = {},
) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(opts.token ? { 'x-auth-token': opts.token } : {}),
      ...(opts.subject ? { 'x-subject-token': opts.subject } : {}),
      ...(opts.body ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

async function login(url: string, name: string, password: string, scope: unknown) {
  const r = await call(url, 'POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name, domain: { id: 'default' }, password } },
        },
        scope,
      },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.headers.get('x-subject-token')!;
}

/** The revocations, made on replica `a()` and checked on replica `b()`. */
function changesSeenByTheOtherReplica(replicas: () => { a: NubesProcess; b: NubesProcess }) {
  let admin: string;
  let member: string;
  let n = 0;
  const v3 = (p: string) => `/identity/v3${p}`;

  /** A user with member on a project of its own, whose token replica b has validated. */
  async function user() {
    const { a, b } = replicas();
    const name = `cache-${++n}`;
    const project = (
      await call(a.url, 'POST', v3('/projects'), { token: admin, body: { project: { name } } })
    ).body.project.id;
    const u = (
      await call(a.url, 'POST', v3('/users'), {
        token: admin,
        body: { user: { name, password: `${name}-pw`, default_project_id: project } },
      })
    ).body.user.id;
    const grant = v3(`/projects/${project}/users/${u}/roles/${member}`);
    assert.equal((await call(a.url, 'PUT', grant, { token: admin })).status, 204);
    const token = await login(a.url, name, `${name}-pw`, { project: { id: project } });
    for (let i = 0; i < 3; i++) {
      const seen = await call(b.url, 'GET', v3('/auth/tokens'), { token, subject: token });
      assert.equal(seen.status, 200);
    }
    assert.equal((await call(b.url, 'GET', '/image/v2/images', { token })).status, 200);
    return { id: u, token, grant, password: `${name}-pw` };
  }
  const refusedOnB = async (token: string) => {
    const { b } = replicas();
    assert.equal((await call(b.url, 'GET', '/image/v2/images', { token })).status, 401);
    assert.equal(
      (await call(b.url, 'GET', v3('/auth/tokens'), { token, subject: token })).status,
      401,
    );
  };

  before(async () => {
    const { a } = replicas();
    admin = await login(a.url, 'admin', PASSWORD, {
      project: { name: 'admin', domain: { id: 'default' } },
    });
    member = (await call(a.url, 'GET', v3('/roles?name=member'), { token: admin })).body.roles[0]
      .id;
  });

  it('a revoke on one replica', async () => {
    const u = await user();
    const r = await call(replicas().a.url, 'DELETE', v3('/auth/tokens'), {
      token: u.token,
      subject: u.token,
    });
    assert.equal(r.status, 204);
    await refusedOnB(u.token);
  });

  it('a role unassignment on one replica', async () => {
    const u = await user();
    assert.equal((await call(replicas().a.url, 'DELETE', u.grant, { token: admin })).status, 204);
    await refusedOnB(u.token);
  });

  it('a user disabled on one replica', async () => {
    const u = await user();
    const r = await call(replicas().a.url, 'PATCH', v3(`/users/${u.id}`), {
      token: admin,
      body: { user: { enabled: false } },
    });
    assert.equal(r.status, 200);
    await refusedOnB(u.token);
  });

  it('a password changed on one replica', async () => {
    const u = await user();
    const r = await call(replicas().a.url, 'POST', v3(`/users/${u.id}/password`), {
      token: u.token,
      body: { user: { original_password: u.password, password: 'another-password' } },
    });
    assert.equal(r.status, 204);
    await refusedOnB(u.token);
  });
}

describe('token cache: two API replicas on one SQLite file, no bus between them', () => {
  let a: NubesProcess;
  let b: NubesProcess;
  before(async () => {
    const env = { NUBES_ADMIN_PASSWORD: PASSWORD };
    a = await startNubes({ command: ['serve', 'api'], env });
    b = await startNubes({
      command: ['serve', 'api'],
      args: ['--database', join(a.dataDir, 'nubes.db')],
      env,
    });
  });
  after(async () => {
    for (const p of [b, a])
      if (p) {
        await p.stop();
        removeDir(p.dataDir);
      }
  });
  changesSeenByTheOtherReplica(() => ({ a, b }));
});

describe(
  'token cache: two API replicas on PostgreSQL and RabbitMQ',
  {
    skip:
      pgUrl && amqpUrl
        ? false
        : 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)',
  },
  () => {
    let backends: Awaited<ReturnType<typeof freshBackends>>;
    let a: NubesProcess;
    let b: NubesProcess;
    before(async () => {
      backends = await freshBackends(pgUrl!, amqpUrl!);
      const args = ['--database', backends.db.url, '--bus', backends.bus.url];
      const env = { NUBES_ADMIN_PASSWORD: PASSWORD };
      a = await startNubes({ command: ['serve', 'api'], args, env });
      b = await startNubes({ command: ['serve', 'api'], args, env });
    });
    after(async () => {
      for (const p of [b, a])
        if (p) {
          await p.stop();
          removeDir(p.dataDir);
        }
      await backends?.drop();
    });
    changesSeenByTheOtherReplica(() => ({ a, b }));
  },
);
