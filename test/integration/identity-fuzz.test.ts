// Sends a few thousand malformed or hostile requests to the identity API (seeded, so a failure can
// be replayed with NUBES_FUZZ_SEED) and checks that none gets a 5xx, every error is a Keystone
// fault body, and the server still serves a normal request afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, Api } from '../support/client.ts';

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = [
  '/auth/tokens',
  '/auth/catalog',
  '/auth/projects',
  '/domains',
  '/domains/{id}',
  '/projects',
  '/projects/{id}',
  '/users',
  '/users/{id}',
  '/users/{id}/password',
  '/users/{id}/projects',
  '/users/{id}/groups',
  '/users/{id}/application_credentials',
  '/users/{id}/application_credentials/{id}',
  '/groups',
  '/groups/{id}',
  '/groups/{id}/users/{id}',
  '/roles',
  '/roles/{id}',
  '/roles/{id}/implies/{id}',
  '/role_inferences',
  '/projects/{id}/users/{id}/roles/{id}',
  '/domains/{id}/groups/{id}/roles',
  '/OS-INHERIT/domains/{id}/users/{id}/roles/{id}/inherited_to_projects',
  '/system/users/{id}/roles/{id}',
  '/role_assignments',
  '/regions',
  '/regions/{id}',
  '/services',
  '/services/{id}',
  '/endpoints',
  '/endpoints/{id}',
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const NASTY_STRINGS = [
  '',
  ' ',
  'a'.repeat(70000),
  '../../etc/passwd',
  '%2e%2e%2f',
  '\u0000',
  '\ud800',
  '🙂'.repeat(300),
  "' OR 1=1 --",
  '<script>',
  '${jndi:x}',
  '__proto__',
  'constructor',
  '%(target.user.id)s',
  'null',
  'true',
  '-1',
  '1e309',
  'default',
  'admin',
];
const NASTY_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  3.14,
  NaN,
  '',
  'x',
  [],
  [null],
  {},
  { __proto__: { polluted: true } },
  { constructor: { prototype: { x: 1 } } },
  'a'.repeat(5000),
  [[[[[[[[[[[]]]]]]]]]]],
  { name: { name: { name: {} } } },
];
const VALID_BODIES: Record<string, unknown>[] = [
  {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: 'admin', domain: { id: 'default' }, password: 'x' } },
      },
    },
  },
  {
    auth: {
      identity: { methods: ['token'], token: { id: 'abc' } },
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    },
  },
  {
    auth: {
      identity: {
        methods: ['application_credential'],
        application_credential: { id: 'x', secret: 'y' },
      },
      scope: 'unscoped',
    },
  },
  { project: { name: 'p', domain_id: 'default', parent_id: null, tags: ['a'] } },
  { user: { name: 'u', password: 'p', email: 'e' } },
  { domain: { name: 'd', enabled: true } },
  { group: { name: 'g' } },
  { role: { name: 'r', options: {} } },
  { region: { id: 'r' } },
  { service: { type: 't' } },
  { endpoint: { service_id: 's', interface: 'public', url: 'http://x' } },
  {
    application_credential: {
      name: 'a',
      roles: [{ name: 'reader' }],
      expires_at: '2030-01-01T00:00:00',
    },
  },
  { user: { password: 'new', original_password: 'old' } },
];

/** Percent-encodes, or (sometimes) passes a raw broken escape through to hit the URL parser. */
function urlPart(r: () => number, s: string): string {
  if (r() < 0.1) return pick(r, ['%E0%A4%A', '%', '%zz', '%00', '..%2f..', '%C0%AE']);
  return encodeURIComponent(s.toWellFormed());
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** Replaces a random leaf (or the whole) of a JSON value with something hostile. */
function mutate(r: () => number, v: unknown, depth = 0): unknown {
  if (depth > 0 && r() < 0.25) return pick(r, NASTY_VALUES);
  if (Array.isArray(v))
    return r() < 0.3 ? pick(r, NASTY_VALUES) : v.map((x) => mutate(r, x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (r() < 0.1) continue;
      out[r() < 0.05 ? pick(r, NASTY_STRINGS) : k] = mutate(r, x, depth + 1);
    }
    if (r() < 0.1) out[pick(r, NASTY_STRINGS)] = pick(r, NASTY_VALUES);
    return out;
  }
  if (typeof v === 'string') return r() < 0.5 ? pick(r, NASTY_STRINGS) : v;
  return r() < 0.5 ? pick(r, NASTY_VALUES) : v;
}

function rawBody(r: () => number): string {
  const choice = r();
  if (choice < 0.6) return JSON.stringify(mutate(r, pick(r, VALID_BODIES)));
  if (choice < 0.7) return JSON.stringify(pick(r, VALID_BODIES)).slice(0, Math.floor(r() * 40));
  if (choice < 0.8) return '{"a":'.repeat(2000) + '1' + '}'.repeat(2000);
  if (choice < 0.9)
    return pick(r, [
      'null',
      '[]',
      '"str"',
      '42',
      'true',
      '{}',
      '{"__proto__":{"admin":true}}',
      '\u0000\u0001',
      '{"a":1,"a":2}',
    ]);
  return Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256))).toString('latin1');
}

describe('identity API under hostile input', () => {
  let cloud: TestCloud;
  let admin: Api;
  let ids: string[];
  const seed = Number(process.env['NUBES_FUZZ_SEED'] ?? Date.now() % 1_000_000);
  const count = Number(process.env['NUBES_FUZZ_COUNT'] ?? 3000);

  before(async () => {
    cloud = await startTestCloud();
    admin = await adminApi(cloud.app);
    const u = await admin.post('/users', { user: { name: 'victim', password: 'pw' } });
    // Sacrificial targets: the fuzz may legitimately delete or change them.
    const p = await admin.post('/projects', { project: { name: 'fuzz-project' } });
    const role = await admin.post('/roles', { role: { name: 'fuzz-role' } });
    ids = [u.body.user.id, 'default', role.body.role.id, p.body.project.id];
  });
  after(() => cloud.close());

  it(`answers ${count} hostile requests without a 5xx (seed ${seed})`, async () => {
    const r = rng(seed);
    const statuses = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const path = pick(r, PATHS).replaceAll('{id}', () =>
        r() < 0.6 ? pick(r, ids) : urlPart(r, pick(r, NASTY_STRINGS)).slice(0, 3000),
      );
      const query =
        r() < 0.3
          ? `?${pick(r, ['name', 'enabled', 'domain_id', 'user.id', 'effective', 'include_names', 'scope.project.id', 'nocatalog'])}=${urlPart(r, pick(r, NASTY_STRINGS).slice(0, 500))}&name=a&name=b`
          : '';
      const method = pick(r, METHODS);
      const headers: Record<string, string> = {};
      const tokenChoice = r();
      if (tokenChoice < 0.5) headers['x-auth-token'] = admin.token!;
      else if (tokenChoice < 0.7)
        headers['x-auth-token'] = pick(r, [
          'garbage',
          admin.token!.slice(0, -2) + 'AA',
          'A'.repeat(5000),
          admin.token!.toUpperCase(),
        ]);
      if (r() < 0.3)
        headers['x-subject-token'] = pick(r, [admin.token!, 'x', '%%%%', 'A'.repeat(3000)]);
      const withBody = method !== 'GET' && method !== 'HEAD' && r() < 0.85;
      if (withBody)
        headers['content-type'] = pick(r, [
          'application/json',
          'application/json',
          'text/plain',
          'application/json; charset=latin1',
          'application/x-www-form-urlencoded',
        ]);
      const res = await cloud.app.inject({
        method: method as 'GET',
        url: `/identity/v3${path}${query}`,
        headers,
        ...(withBody ? { payload: rawBody(r) } : {}),
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      assert.ok(
        res.statusCode < 500,
        `${method} ${path.slice(0, 80)}${query.slice(0, 80)} -> ${res.statusCode} ${res.body.slice(0, 300)} (seed ${seed}, request ${i})`,
      );
      if (res.statusCode >= 400 && method !== 'HEAD') {
        const body = JSON.parse(res.body);
        assert.equal(
          body.error?.code,
          res.statusCode,
          `fault body of ${method} ${path.slice(0, 80)}: ${res.statusCode} ${res.body.slice(0, 200)}`,
        );
        assert.equal(typeof body.error.message, 'string');
      }
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
    assert.equal(({} as Record<string, unknown>)['admin'], undefined, 'no prototype pollution');
    // Still healthy: the admin can log in and work (the fuzz may have revoked the old token).
    assert.equal((await (await adminApi(cloud.app)).get('/users')).status, 200);
    assert.ok(
      (statuses.get(400) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0,
      `a spread of answers: ${JSON.stringify([...statuses])}`,
    );
  });
});
