// Scale-out, end to end: two `nubes serve api` replicas on one PostgreSQL and one RabbitMQ, and a
// `nubes serve agent` for a host, each its own process started as an operator would.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { freshBackends } from '../support/databases.ts';
import { createAmqpBus } from '../../src/platform/bus/amqp.ts';
import type { Bus } from '../../src/platform/bus/bus.ts';

const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];
const skip =
  pgUrl && amqpUrl
    ? false
    : 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)';
const PASSWORD = 'scale-out-admin-pw';

async function call(
  url: string,
  method: string,
  path: string,
  opts: { token?: string; subject?: string; body?: unknown } = {},
) {
  const r = await fetch(`${url}/identity/v3${path}`, {
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

describe('scale-out: API replicas and a host agent on PostgreSQL and RabbitMQ', { skip }, () => {
  let backends: Awaited<ReturnType<typeof freshBackends>>;
  let a: NubesProcess;
  let b: NubesProcess;
  let agent: NubesProcess | undefined;
  let bus: Bus;
  const host = `e2e-host-${randomUUID().slice(0, 8)}`;
  const shared = () => ['--database', backends.db.url, '--bus', backends.bus.url];

  before(async () => {
    backends = await freshBackends(pgUrl!, amqpUrl!);
    // Both at once on an empty database, as a service manager starts them: one migrates and
    // bootstraps, the other waits for the migration lock and finds the data there.
    [a, b] = (await Promise.all(
      [1, 2].map(() =>
        startNubes({
          command: ['serve', 'api'],
          args: shared(),
          env: { NUBES_ADMIN_PASSWORD: PASSWORD },
        }),
      ),
    )) as [NubesProcess, NubesProcess];
    bus = await createAmqpBus({ url: backends.bus.url });
  });
  after(async () => {
    await bus?.close();
    for (const p of [agent, a, b])
      if (p) {
        await p.stop();
        removeDir(p.dataDir);
      }
    await backends?.drop();
  });

  it('a token issued by one replica is valid on the other, and revoked on both at once', async () => {
    const login = await call(a.url, 'POST', '/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: PASSWORD } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      },
    });
    assert.equal(login.status, 201);
    const token = login.headers.get('x-subject-token')!;
    const onB = await call(b.url, 'GET', '/auth/tokens', { token, subject: token });
    assert.equal(onB.status, 200);
    assert.equal(onB.body.token.user.name, 'admin');

    const made = await call(b.url, 'POST', '/projects', {
      token,
      body: { project: { name: 'made-on-b' } },
    });
    assert.equal(made.status, 201);
    assert.equal(
      (await call(a.url, 'GET', `/projects/${made.body.project.id}`, { token })).body.project.name,
      'made-on-b',
    );

    assert.equal(
      (await call(b.url, 'DELETE', '/auth/tokens', { token, subject: token })).status,
      204,
    );
    assert.equal(
      (await call(a.url, 'GET', '/auth/tokens', { token, subject: token })).status,
      401,
      'the revoked token no longer authenticates on the other replica',
    );
  });

  it('the host agent answers over RabbitMQ, and a call to it times out once it stops', async () => {
    const heard: unknown[] = [];
    await bus.subscribe('compute', (event, payload) => {
      if (event === 'agent.up') heard.push(payload);
    });
    agent = await startNubes({
      command: ['serve', 'agent'],
      args: ['--host', host, '--bus', backends.bus.url],
      readyWhen: /host agent serving/,
    });
    const pong = (await bus.call(`compute.${host}`, 'ping', {}, { timeoutMs: 10_000 })) as {
      host: string;
      version: string;
    };
    assert.equal(pong.host, host);
    assert.match(pong.version, /^\d+\.\d+\.\d+/);
    const deadline = Date.now() + 5000;
    while (!heard.some((p) => (p as { host: string }).host === host) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      heard.some((p) => (p as { host: string }).host === host),
      'the agent announced itself on the compute topic',
    );

    assert.equal(await agent.stop(), 0);
    removeDir(agent.dataDir);
    agent = undefined;
    await assert.rejects(bus.call(`compute.${host}`, 'ping', {}, { timeoutMs: 500 }), {
      code: 'bus_timeout',
    });
  });

  it('a replica pointed at an unreachable broker refuses to start and says why', async () => {
    await assert.rejects(
      startNubes({
        command: ['serve', 'api'],
        args: ['--database', backends.db.url, '--bus', 'amqp://guest:guest@127.0.0.1:1/'],
      }),
      /cannot reach the message bus at amqp:\/\/guest@127\.0\.0\.1:1\/.*rabbitmq-server/s,
    );
  });
});
