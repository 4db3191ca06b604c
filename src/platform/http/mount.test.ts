// mountService on a real listener (inject): version documents and base URLs, the family's faults
// and 401 challenge, the token check before schema validation, microversions, typed routes whose
// schema failures answer 400 in the family's format with a message naming the field; application
// credential access rules applied by service type.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createHttpServer } from './server.ts';
import { FaultFamilies, type Fault } from './faults.ts';
import { mountService, type ServiceApi } from './mount.ts';
import { params, query, s, first } from './schema.ts';
import { Unauthorized } from '../errors.ts';
import type { AuthContext } from '../auth/context.ts';

const render = (f: Fault) => ({ oops: { status: f.status, message: f.message } });

async function cloud(over: Partial<ServiceApi> = {}) {
  const faults = new FaultFamilies();
  const app = createHttpServer({ log: pino({ level: 'silent' }), faults });
  mountService(app, {
    prefix: '/thing',
    serviceType: 'thing',
    publicUrl: undefined,
    faults,
    fault: { render },
    challenge: (base) => `Keystone uri="${base}/auth"`,
    authenticate: async (token) => {
      if (token !== 'good') throw new Unauthorized('Who are you?', 'authentication_failed');
      return { user: { id: 'u1' } } as unknown as AuthContext;
    },
    discovery: { '/': { status: 300, body: (base) => ({ versions: [`${base}/v1/`] }) } },
    version: {
      path: '/v1',
      document: { body: (base) => ({ version: { self: `${base}/v1/` } }) },
      routes: (api) => {
        const widget = s.object(
          {
            widget: s.object(
              {
                name: s.string({ minLength: 1 }),
                size: s.nullable(s.integer({ minimum: 0 })),
                parts: s.array(s.object({ kind: s.literal(['a', 'b']) }, { required: ['kind'] })),
              },
              { required: ['name'] },
            ),
          },
          { required: ['widget'] },
        );
        api.put(
          '/widgets/:id',
          { schema: { params: params('id'), querystring: query, body: widget } },
          async (request) => ({
            id: request.params.id,
            name: request.body.widget.name,
            size: request.body.widget.size ?? null,
            kinds: request.body.widget.parts?.map((p) => p.kind) ?? [],
            dry: first(request.query['dry']) ?? null,
            user: request.auth.user.id,
          }),
        );
      },
    },
    ...over,
  });
  await app.ready();
  return app;
}

const put = (
  app: Awaited<ReturnType<typeof cloud>>,
  body: unknown,
  token = 'good',
  url = '/thing/v1/widgets/w1',
) =>
  app.inject({
    method: 'PUT',
    url,
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });

describe('mountService', () => {
  it('serves public version documents with the base URL of the request or the configured one', async () => {
    const app = await cloud();
    const root = await app.inject({ url: '/thing', headers: { host: 'h.example:5000' } });
    assert.equal(root.statusCode, 300);
    assert.deepEqual(root.json(), { versions: ['http://h.example:5000/thing/v1/'] });
    for (const url of ['/thing/v1', '/thing/v1/']) {
      const v = await app.inject({ url, headers: { host: 'h.example' } });
      assert.equal(v.statusCode, 200, url);
      assert.deepEqual(v.json(), { version: { self: 'http://h.example/thing/v1/' } });
    }
    await app.close();
    const pub = await cloud({ publicUrl: 'https://cloud.example' });
    const r = await pub.inject({ url: '/thing/v1/', headers: { host: 'inside:1' } });
    assert.deepEqual(r.json(), { version: { self: 'https://cloud.example/thing/v1/' } });
    await pub.close();
  });

  it('hands typed params, query and body to the handler', async () => {
    const app = await cloud();
    const r = await put(
      app,
      { widget: { name: 'w', size: null, parts: [{ kind: 'a' }, { kind: 'b' }] } },
      'good',
      '/thing/v1/widgets/w9?dry=1&dry=2',
    );
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), {
      id: 'w9',
      name: 'w',
      size: null,
      kinds: ['a', 'b'],
      dry: '1',
      user: 'u1',
    });
    await app.close();
  });

  it('answers schema failures with a 400 in the family format that names the field', async () => {
    const app = await cloud();
    const cases: [unknown, string][] = [
      [[], 'Invalid input: the body must be an object.'],
      [{}, "Invalid input: the body needs 'widget'."],
      [{ widget: {} }, "Invalid input: the body needs 'widget.name'."],
      [{ widget: { name: 3 } }, "Invalid input for field 'widget.name': must be a string."],
      [
        { widget: { name: 'w', size: 'big' } },
        "Invalid input for field 'widget.size': must be an integer or null.",
      ],
      [
        { widget: { name: 'w', parts: [{ kind: 'a' }, {}] } },
        "Invalid input: the body needs 'widget.parts[1].kind'.",
      ],
      [
        { widget: { name: 'w', parts: [{ kind: 'c' }] } },
        "Invalid input for field 'widget.parts[0].kind': must be equal to one of the allowed values.",
      ],
    ];
    for (const [body, message] of cases) {
      const r = await put(app, body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(r.json(), { oops: { status: 400, message } }, JSON.stringify(body));
    }
    await app.close();
  });

  it('checks the token before the body, and challenges with the family header', async () => {
    const app = await cloud();
    const r = await put(app, { not: 'a widget' }, 'bad');
    assert.equal(r.statusCode, 401);
    assert.deepEqual(r.json(), { oops: { status: 401, message: 'Who are you?' } });
    assert.match(
      String(r.headers['www-authenticate']),
      /^Keystone uri="http:\/\/.*\/thing\/auth"$/,
    );
    await app.close();
  });

  it('refuses with 401, before the body, what the access rules of the token do not allow', async () => {
    const ruled = (path: string, method: 'GET' | 'PUT' = 'PUT', service = 'thing') =>
      ({
        user: { id: 'u1' },
        appCred: {
          id: 'ac1',
          name: 'ci',
          restricted: true,
          accessRules: [{ id: 'r1', service, method, path }],
        },
      }) as unknown as AuthContext;
    const app = await cloud({
      authenticate: async (token) => {
        if (token === 'one') return ruled('/v1/widgets/w1');
        if (token === 'any') return ruled('/v1/widgets/*');
        if (token === 'get') return ruled('/v1/widgets/*', 'GET');
        if (token === 'other') return ruled('/v1/widgets/*', 'PUT', 'another');
        if (token === 'full') return ruled('/thing/v1/widgets/*');
        throw new Unauthorized('Who are you?', 'authentication_failed');
      },
    });
    const body = { widget: { name: 'w' } };
    assert.equal((await put(app, body, 'one')).statusCode, 200);
    assert.equal((await put(app, body, 'one', '/thing/v1/widgets/w1?dry=1')).statusCode, 200);
    assert.equal((await put(app, body, 'any', '/thing/v1/widgets/w2')).statusCode, 200);
    for (const [token, url] of [
      ['one', '/thing/v1/widgets/w2'],
      ['get', '/thing/v1/widgets/w1'],
      ['other', '/thing/v1/widgets/w1'],
      ['full', '/thing/v1/widgets/w1'],
    ] as const) {
      const r = await put(app, { not: 'a widget' }, token, url);
      assert.equal(r.statusCode, 401, `${token} ${url}`);
      assert.match(
        r.json().oops.message,
        /application credential ac1, whose access rules do not allow PUT \/v1\/widgets\/w[12] on service thing/,
      );
      assert.match(String(r.headers['www-authenticate']), /^Keystone uri=/);
    }
    const doc = await app.inject({ url: '/thing/v1/', headers: { 'x-auth-token': 'get' } });
    assert.equal(doc.statusCode, 200, 'public routes do not look at the token');
    await app.close();
  });

  it('answers unknown routes under its prefix in its own fault format', async () => {
    const app = await cloud();
    const r = await app.inject({
      url: '/thing/v1/nothing-here',
      headers: { 'x-auth-token': 'good' },
    });
    assert.equal(r.statusCode, 404);
    assert.match(r.json().oops.message, /could not be found: GET \/thing\/v1\/nothing-here/);
    await app.close();
  });

  it('negotiates microversions on the versioned API only, when given a range', async () => {
    const app = await cloud({
      version: {
        path: '/v2',
        document: { body: () => ({}) },
        microversions: { service: 'thing', min: '2.1', max: '2.5' },
        routes: () => {},
      },
    });
    const ok = await app.inject({
      url: '/thing/v2/',
      headers: { 'openstack-api-version': 'thing 2.3' },
    });
    assert.equal(ok.headers['openstack-api-version'], 'thing 2.3');
    const high = await app.inject({
      url: '/thing/v2/',
      headers: { 'openstack-api-version': 'thing 2.9' },
    });
    assert.equal(high.statusCode, 406);
    const root = await app.inject({
      url: '/thing',
      headers: { 'openstack-api-version': 'thing 2.9' },
    });
    assert.equal(root.statusCode, 300, 'discovery at the root does not negotiate');
    await app.close();
  });
});

describe('schema builders', () => {
  it('are plain JSON Schema', () => {
    assert.deepEqual(s.nullable(s.literal(['a', 'b'])), {
      type: ['string', 'null'],
      enum: ['a', 'b', null],
    });
    assert.deepEqual(params('id', 'key'), {
      type: 'object',
      properties: { id: { type: 'string' }, key: { type: 'string' } },
      required: ['id', 'key'],
    });
    assert.deepEqual(s.object({ a: s.boolean() }, { required: ['a'], maxProperties: 3 }), {
      type: 'object',
      properties: { a: { type: 'boolean' } },
      required: ['a'],
      maxProperties: 3,
    });
  });
});
