// Compute scaled out, under contention: two `nubes api` replicas on one PostgreSQL and RabbitMQ and
// three `nubes agent` processes (fake driver), each its own process; hundreds of creates fired at
// both replicas at once never over-commit a host and never exceed a quota. (Every server command
// through the openstack CLI on this layout is in server-cli.test.ts.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { startAll, startNubes, removeDir, type NubesProcess } from '../support/nubes-process.ts';
import { freshBackends } from '../support/databases.ts';
import { cloudEntry, haveOpenstackCli, os, osOk } from '../support/openstack-cli.ts';

const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];
const skip =
  !pgUrl || !amqpUrl
    ? 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)'
    : !haveOpenstackCli()
      ? 'python3-openstackclient is not installed (scripts/test.sh installs it)'
      : false;
const PASSWORD = 'scale-out-compute-pw';
// Each agent's host: 2 vCPUs × the default cpu ratio 4 = 8 m1.nano (1 vCPU, 128 MB) builds.
const HOST_VCPUS = 2;
const CPU_RATIO = 4;

async function api(
  url: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
) {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token ? { 'x-auth-token': token } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
}

async function login(
  url: string,
  user: string,
  password: string,
  project: string,
): Promise<string> {
  const r = await api(url, null, 'POST', '/identity/v3/auth/tokens', {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: user, domain: { id: 'default' }, password } },
      },
      scope: { project: { name: project, domain: { id: 'default' } } },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.headers.get('x-subject-token')!;
}

describe('scale-out compute under contention: two api replicas and three agents', { skip }, () => {
  let backends: Awaited<ReturnType<typeof freshBackends>>;
  let a: NubesProcess;
  let b: NubesProcess;
  const agents: NubesProcess[] = [];
  const hosts = [1, 2, 3].map((n) => `so-${randomUUID().slice(0, 6)}-${n}`);
  const env = (cloud: string) => ({
    OS_CLIENT_CONFIG_FILE: join(a.dataDir, 'clouds.yaml'),
    OS_CLOUD: cloud,
  });

  before(async () => {
    backends = await freshBackends(pgUrl!, amqpUrl!);
    const shared = ['--database', backends.db.url, '--bus', backends.bus.url];
    [a, b] = (await Promise.all(
      [1, 2].map(() =>
        startNubes({ command: ['api'], args: shared, env: { NUBES_ADMIN_PASSWORD: PASSWORD } }),
      ),
    )) as [NubesProcess, NubesProcess];
    agents.push(
      ...(await startAll(
        hosts.map((host) => ({
          command: ['agent'],
          args: ['--host', host, '--bus', backends.bus.url, '--virt-driver', 'fake'],
          env: { NUBES_FAKE_VCPUS: String(HOST_VCPUS), NUBES_FAKE_MEMORY_MB: '8192' },
          readyWhen: /host agent serving/,
        })),
      )),
    );
    const cloud = cloudEntry;
    writeFileSync(
      join(a.dataDir, 'clouds.yaml'),
      stringify({
        clouds: {
          'admin-a': cloud(a.url, 'admin', PASSWORD, 'admin'),
          'alice-a': cloud(a.url, 'alice', 'alice-pw', 'alpha'),
          'alice-b': cloud(b.url, 'alice', 'alice-pw', 'alpha'),
        },
      }),
    );
    await osOk(['project', 'create', 'alpha'], env('admin-a'));
    await osOk(['project', 'create', 'beta'], env('admin-a'));
    await osOk(['user', 'create', '--password', 'alice-pw', 'alice'], env('admin-a'));
    await osOk(['role', 'add', '--user', 'alice', '--project', 'alpha', 'member'], env('admin-a'));
    await osOk(['role', 'add', '--user', 'alice', '--project', 'beta', 'member'], env('admin-a'));
    const disk = join(a.dataDir, 'disk.raw');
    writeFileSync(disk, Buffer.alloc(1024 * 1024));
    await osOk(
      [
        'image',
        'create',
        '--disk-format',
        'raw',
        '--container-format',
        'bare',
        '--file',
        disk,
        '--public',
        'tiny',
      ],
      env('admin-a'),
    );
    // The agents registered with whichever replica's conductor took their report.
    for (let n = 0; n < 100; n++) {
      if ((await osOk(['compute', 'service', 'list', '-f', 'json'], env('admin-a'))).length === 3)
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    for (const p of [...agents, a, b])
      if (p) {
        await p.stop();
        removeDir(p.dataDir);
      }
    await backends?.drop();
  });

  it('hundreds of parallel creates at both replicas never over-commit a host nor exceed a quota', async () => {
    const quota = 10;
    await osOk(
      [
        'quota',
        'set',
        '--instances',
        String(quota),
        '--cores',
        '1000',
        '--ram',
        '1000000',
        'alpha',
      ],
      env('admin-a'),
    );
    await osOk(
      ['quota', 'set', '--instances', '1000', '--cores', '1000', '--ram', '1000000', 'beta'],
      env('admin-a'),
    );
    const tokens = {
      alpha: await login(a.url, 'alice', 'alice-pw', 'alpha'),
      beta: await login(b.url, 'alice', 'alice-pw', 'beta'),
    };
    const image = (await osOk(['image', 'show', 'tiny', '-f', 'json'], env('admin-a'))).id;
    const fire = (n: number) => {
      const project = n % 3 === 0 ? 'alpha' : 'beta';
      const url = n % 2 === 0 ? a.url : b.url;
      return api(url, tokens[project], 'POST', '/compute/v2.1/servers', {
        server: { name: `burst-${n}`, imageRef: image, flavorRef: '42' },
      });
    };
    const results = await Promise.all(Array.from({ length: 300 }, (_, n) => fire(n)));
    const codes = new Map<number, number>();
    for (const r of results) codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
    assert.deepEqual(
      [...codes.keys()].sort(),
      [202, 403],
      `statuses: ${JSON.stringify([...codes])}`,
    );

    // Wait until nothing is building any more.
    const client = new pg.Client({ connectionString: backends.db.url });
    await client.connect();
    try {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const { rows } = await client.query(
          "SELECT count(*)::int AS n FROM instances WHERE deleted_at IS NULL AND vm_state = 'building'",
        );
        if (rows[0].n === 0) break;
        assert.ok(Date.now() < deadline, `${rows[0].n} instances still building after two minutes`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const perProject = await client.query(
        'SELECT project_id, count(*)::int AS n FROM instances WHERE deleted_at IS NULL GROUP BY project_id',
      );
      const alphaId = (await osOk(['project', 'show', 'alpha', '-f', 'json'], env('admin-a'))).id;
      const alphaCount = perProject.rows.find((r) => r.project_id === alphaId)?.n ?? 0;
      assert.ok(alphaCount <= quota, `alpha holds ${alphaCount} instances, its quota is ${quota}`);
      assert.ok(alphaCount > 0);
      const perHost =
        await client.query(`SELECT h.host, h.vcpus * h.cpu_allocation_ratio AS cap, coalesce(sum(a.vcpus), 0)::int AS used
        FROM compute_hosts h LEFT JOIN allocations a ON a.host = h.host GROUP BY h.host, h.vcpus, h.cpu_allocation_ratio`);
      for (const r of perHost.rows)
        assert.ok(r.used <= Number(r.cap), `${r.host} holds ${r.used} vCPUs of ${r.cap}`);
      const active = await client.query(
        "SELECT count(*)::int AS n FROM instances WHERE deleted_at IS NULL AND vm_state = 'active'",
      );
      const faults = await client.query(
        "SELECT fault::json->>'message' AS m, count(*)::int AS n FROM instances WHERE vm_state = 'error' GROUP BY 1",
      );
      assert.equal(
        active.rows[0].n,
        hosts.length * HOST_VCPUS * CPU_RATIO,
        `every slot is used, none twice; the others failed with ${JSON.stringify(faults.rows)}`,
      );
      // No host ever refused a build for want of room: the claims alone kept them within capacity.
      const refused = await client.query(
        "SELECT count(*)::int AS n FROM instance_action_events WHERE traceback LIKE '%not enough resources%'",
      );
      assert.equal(refused.rows[0].n, 0);
    } finally {
      await client.end();
    }
  });
});
