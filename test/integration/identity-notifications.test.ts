// Identity notifications on the bus: a subscriber on topic 'notifications' sees Keystone's basic
// identity.<resource>.<operation> events and its CADF identity.authenticate and role assignment
// events, in order, from publisher identity.<host>; no password or secret is in any of them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { adminApi, Api } from '../support/client.ts';
import { createMemoryBus } from '../../src/platform/bus/memory.ts';
import type { Bus } from '../../src/platform/bus/bus.ts';
import { listen, type NotificationOf } from '../../src/platform/bus/notifications.ts';
import {
  IDENTITY_NOTIFICATIONS,
  IDENTITY_NOTIFICATION_TOPIC,
  type CadfPayload,
  type IdentityCatalogue,
} from '../../src/identity/index.ts';

type Heard = NotificationOf<IdentityCatalogue>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const PASSWORD = 'first-Secret-pw-1';
const NEW_PASSWORD = 'second-Secret-pw-2';
const CHANGED_PASSWORD = 'third-Secret-pw-3';
const WRONG_PASSWORD = 'wrong-Secret-pw-4';
const APP_SECRET = 'app-cred-Secret-5';

describe('identity notifications', () => {
  let cloud: TestCloud;
  let bus: Bus;
  let admin: Api;
  let adminUserId: string;
  const heard: Heard[] = [];
  const skipped: string[] = [];

  /** Waits until `count` notifications arrived since the test began, then a little more. */
  async function heardAll(count: number): Promise<Heard[]> {
    for (const end = Date.now() + 5000; heard.length < count; await sleep(5))
      assert.ok(Date.now() < end, `only ${heard.map((n) => n.event_type)} heard`);
    await sleep(30);
    return [...heard];
  }

  before(async () => {
    cloud = await startTestCloud();
    bus = createMemoryBus();
    cloud.identity.notifyOn(bus, 'note-host');
    await listen(
      bus,
      IDENTITY_NOTIFICATION_TOPIC,
      IDENTITY_NOTIFICATIONS,
      (n) => void heard.push(n),
      { skipped: (e, err) => skipped.push(`${e}: ${err.message}`) },
    );
    admin = await adminApi(cloud.app);
    adminUserId = (await admin.get('/users?name=admin')).body.users[0].id;
    await heardAll(1); // the admin's own login
    heard.length = 0;
  });
  after(async () => {
    await cloud.close();
    await bus.close();
  });

  it('announces resources, membership, grants and password checks in order, without secrets', async () => {
    const project = (await admin.post('/projects', { project: { name: 'noted' } })).body.project;
    const user = (
      await admin.post('/users', {
        user: { name: 'noted-user', password: PASSWORD, default_project_id: project.id },
      })
    ).body.user;
    const group = (await admin.post('/groups', { group: { name: 'noted-group' } })).body.group;
    const role = (await admin.post('/roles', { role: { name: 'noted-role' } })).body.role;
    assert.equal((await admin.put(`/groups/${group.id}/users/${user.id}`)).status, 204);
    const grant = `/projects/${project.id}/users/${user.id}/roles/${role.id}`;
    assert.equal((await admin.put(grant)).status, 204);
    const scope = { project: { id: project.id } };
    const alice = await new Api(cloud.app).login('noted-user', PASSWORD, scope);
    await assert.rejects(new Api(cloud.app).login('noted-user', WRONG_PASSWORD, scope));
    // An unknown user has no id to name: Keystone sends nothing for it, and neither do we.
    await assert.rejects(new Api(cloud.app).login('nobody', WRONG_PASSWORD, scope));
    const cred = await alice.post(`/users/${user.id}/application_credentials`, {
      application_credential: { name: 'noted-app', secret: APP_SECRET },
    });
    assert.equal(cred.status, 201, JSON.stringify(cred.body));
    const credId = cred.body.application_credential.id as string;
    assert.equal(
      (await alice.del(`/users/${user.id}/application_credentials/${credId}`)).status,
      204,
    );
    assert.equal(
      (await admin.patch(`/users/${user.id}`, { user: { password: NEW_PASSWORD } })).status,
      200,
    );
    const changed = await new Api(cloud.app).req('POST', `/users/${user.id}/password`, {
      user: { original_password: NEW_PASSWORD, password: CHANGED_PASSWORD },
    });
    assert.equal(changed.status, 204, JSON.stringify(changed.body));
    assert.equal((await admin.del(grant)).status, 204);
    assert.equal((await admin.del(`/groups/${group.id}/users/${user.id}`)).status, 204);
    for (const path of [
      `/users/${user.id}`,
      `/groups/${group.id}`,
      `/roles/${role.id}`,
      `/projects/${project.id}`,
    ])
      assert.equal((await admin.del(path)).status, 204, path);

    const got = await heardAll(18);
    assert.deepEqual(
      got.map((n) => [n.event_type, 'resource_info' in n.payload ? n.payload.resource_info : '']),
      [
        ['identity.project.created', project.id],
        ['identity.user.created', user.id],
        ['identity.group.created', group.id],
        ['identity.role.created', role.id],
        ['identity.group.updated', group.id],
        ['identity.role_assignment.created', ''],
        ['identity.authenticate', ''],
        ['identity.authenticate', ''],
        ['identity.application_credential.created', credId],
        ['identity.application_credential.deleted', credId],
        ['identity.user.updated', user.id],
        ['identity.user.updated', user.id],
        ['identity.role_assignment.deleted', ''],
        ['identity.group.updated', group.id],
        ['identity.user.deleted', user.id],
        ['identity.group.deleted', group.id],
        ['identity.role.deleted', role.id],
        ['identity.project.deleted', project.id],
      ],
    );
    assert.equal(got.length, 18, 'nothing more');
    for (const n of got) {
      assert.equal(n.publisher_id, 'identity.note-host');
      assert.equal(n.priority, 'INFO');
    }

    // Membership names the user added and removed.
    assert.deepEqual(
      [got[4]!.payload, got[13]!.payload],
      [
        {
          resource_info: group.id,
          actor_id: user.id,
          actor_type: 'user',
          actor_operation: 'added',
        },
        {
          resource_info: group.id,
          actor_id: user.id,
          actor_type: 'user',
          actor_operation: 'removed',
        },
      ],
    );

    // Role assignments and password checks are CADF events.
    const identityService = (await admin.get('/services?type=identity')).body.services[0].id;
    const cadf = (i: number) => got[i]!.payload as CadfPayload;
    for (const [i, action] of [
      [5, 'created.role_assignment'],
      [12, 'deleted.role_assignment'],
    ] as const) {
      const e = cadf(i);
      assert.equal(e.typeURI, 'http://schemas.dmtf.org/cloud/audit/1.0/event');
      assert.equal(e.eventType, 'activity');
      assert.equal(e.action, action);
      assert.equal(e.outcome, 'success');
      assert.equal(e.role, role.id);
      assert.equal(e.user, user.id);
      assert.equal(e.project, project.id);
      assert.equal(e.inherited_to_projects, false);
      assert.equal(e.initiator.id, adminUserId, 'the admin made the grant');
      assert.equal(e.initiator.typeURI, 'service/security/account/user');
      assert.equal(e.observer.typeURI, 'service/security');
      assert.equal(e.observer.id, identityService);
    }
    assert.deepEqual(
      [cadf(6), cadf(7)].map((e) => [e.action, e.outcome, e.initiator.id, e.target.typeURI]),
      [
        ['authenticate', 'success', user.id, 'service/security/account/user'],
        ['authenticate', 'failure', user.id, 'service/security/account/user'],
      ],
    );

    // No password or secret, in any form the request carried it, is in any notification.
    const all = JSON.stringify(got);
    for (const secret of [PASSWORD, NEW_PASSWORD, CHANGED_PASSWORD, WRONG_PASSWORD, APP_SECRET])
      assert.ok(!all.includes(secret), `${secret} leaked into a notification`);
    assert.doesNotMatch(all, /password|secret|\$argon2/i);
    assert.deepEqual(skipped, []);
  });

  it('still answers when the bus cannot take a notification', async () => {
    const dead = createMemoryBus();
    await dead.close(); // every send now fails
    cloud.identity.notifyOn(dead, 'note-host');
    try {
      const p = await admin.post('/projects', { project: { name: 'unheard' } });
      assert.equal(p.status, 201);
      await assert.rejects(new Api(cloud.app).login('admin', WRONG_PASSWORD));
      assert.equal((await admin.del(`/projects/${p.body.project.id}`)).status, 204);
    } finally {
      cloud.identity.notifyOn(bus, 'note-host');
    }
  });

  it('announces a domain delete with what it took along', async () => {
    heard.length = 0;
    const domain = (await admin.post('/domains', { domain: { name: 'gone' } })).body.domain;
    const p = (await admin.post('/projects', { project: { name: 'gp', domain_id: domain.id } }))
      .body.project;
    assert.equal(
      (await admin.patch(`/domains/${domain.id}`, { domain: { enabled: false } })).status,
      200,
    );
    assert.equal((await admin.del(`/domains/${domain.id}`)).status, 204);
    const got = await heardAll(5);
    assert.deepEqual(
      got.map((n) => [n.event_type, (n.payload as { resource_info: string }).resource_info]),
      [
        ['identity.domain.created', domain.id],
        ['identity.project.created', p.id],
        ['identity.domain.updated', domain.id],
        ['identity.project.deleted', p.id],
        ['identity.domain.deleted', domain.id],
      ],
    );
  });
});
