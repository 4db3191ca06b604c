// Issue 15, item 8: `GET /flavors?marker=<another project's private flavor>` answered 200 where an
// unknown id is a 400, telling that the flavor exists. A marker the caller may not see now answers
// exactly as an unknown one, for flavors and for every other paged list (servers, images, key
// pairs, instance actions).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mv, startComputeCloud, waitFor, type ComputeCloud } from '../support/compute.ts';
import type { Api, Res } from '../support/client.ts';

/** The answer with the marker's own text replaced, to compare two answers that name different markers. */
const shape = (r: Res, marker: string) => ({
  status: r.status,
  body: JSON.stringify(r.body).replaceAll(marker, 'MARKER'),
});

async function sameAsUnknown(
  api: Api,
  url: (marker: string) => string,
  hidden: string,
  unknown: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const seen = await api.req('GET', url(hidden), undefined, headers);
  const none = await api.req('GET', url(unknown), undefined, headers);
  assert.equal(none.status, 400, `${url(unknown)}: ${JSON.stringify(none.body)}`);
  assert.deepEqual(shape(seen, hidden), shape(none, unknown), url(hidden));
}

describe('issue 15: a marker the caller may not see looks like an unknown one', () => {
  let c: ComputeCloud;
  before(async () => {
    c = await startComputeCloud({ node1: {} });
  });
  after(() => c.close());

  it("flavors: another project's private flavor", async () => {
    const made = await c.admin.post('/flavors', {
      flavor: {
        name: 'alice-only',
        ram: 256,
        vcpus: 1,
        disk: 1,
        id: 'alice-only',
        'os-flavor-access:is_public': false,
      },
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const access = await c.admin.post('/flavors/alice-only/action', {
      addTenantAccess: { tenant: c.aliceProject },
    });
    assert.equal(access.status, 200, JSON.stringify(access.body));
    // Alice may page from it; bob may not, and cannot tell it from a flavor that does not exist.
    assert.equal((await c.alice.get('/flavors?marker=alice-only')).status, 200);
    assert.equal((await c.admin.get('/flavors?marker=alice-only&is_public=none')).status, 200);
    for (const list of ['/flavors', '/flavors/detail'])
      await sameAsUnknown(c.bob, (m) => `${list}?marker=${m}`, 'alice-only', 'nobody-has-it');
  });

  it("servers, images, key pairs and instance actions: another project's", async () => {
    const server = (await c.boot(c.alice, { name: 'hers' })).body.server.id as string;
    await waitFor(c.alice, server, ['ACTIVE']);
    await sameAsUnknown(
      c.bob,
      (m) => `/servers?marker=${m}`,
      server,
      '00000000-0000-4000-8000-000000000000',
    );

    const image = (
      await c.alice
        .on('/image')
        .post('/v2/images', { name: 'private', disk_format: 'raw', container_format: 'bare' })
    ).body.id as string;
    await sameAsUnknown(
      c.bob.on('/image'),
      (m) => `/v2/images?marker=${m}`,
      image,
      '00000000-0000-4000-8000-000000000000',
    );

    const kp = await c.alice.req('POST', '/os-keypairs', { keypair: { name: 'k-alice' } });
    assert.equal(kp.status, 200, JSON.stringify(kp.body));
    const seen = await c.bob.req('GET', '/os-keypairs?marker=k-alice', undefined, mv('2.35'));
    const none = await c.bob.req('GET', '/os-keypairs?marker=k-nobody', undefined, mv('2.35'));
    assert.notEqual(none.status, 200);
    assert.deepEqual(shape(seen, 'k-alice'), shape(none, 'k-nobody'));

    // An action of another server (even one's own) is no marker for this server's actions.
    const mine = (await c.boot(c.alice, { name: 'other' })).body.server.id as string;
    await waitFor(c.alice, mine, ['ACTIVE']);
    const theirs = (await c.alice.get(`/servers/${server}/os-instance-actions`)).body
      .instanceActions[0].request_id as string;
    await sameAsUnknown(
      c.alice,
      (m) => `/servers/${mine}/os-instance-actions?marker=${m}`,
      theirs,
      `req-${crypto.randomUUID()}`,
      mv('2.58'),
    );
  });
});
