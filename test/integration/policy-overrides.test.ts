// An operator's policy file (--policy-file) changes what the identity API allows, and a broken
// file stops the start with a message that names it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';
import { Api, adminApi } from '../support/client.ts';

function policyFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'nubes-policy-')), 'policy.yaml');
  writeFileSync(f, text);
  return f;
}

describe('policy overrides from a file', () => {
  let cloud: TestCloud;
  let admin: Api;
  before(async () => {
    cloud = await startTestCloud({
      NUBES_POLICY_FILE: policyFile(
        [
          '# nobody creates projects through the API; any reader may list them',
          '"identity:create_project": "!"',
          '"identity:list_projects": "role:reader"',
        ].join('\n'),
      ),
    });
    admin = await adminApi(cloud.app);
  });
  after(() => cloud.close());

  it('a rule set to "!" denies even the admin, with the rule named', async () => {
    const r = await admin.post('/projects', { project: { name: 'nope' } });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /identity:create_project/);
    assert.equal((await admin.get('/projects?name=nope')).body.projects.length, 0);
  });

  it('a loosened rule lets a project reader list projects, which the default forbids', async () => {
    const projects = (await admin.get('/projects?name=admin')).body.projects;
    const reader = (await admin.get('/roles?name=reader')).body.roles[0];
    const user = await admin.post('/users', {
      user: { name: 'auditor', password: 'pw', domain_id: 'default' },
    });
    assert.equal(
      (await admin.put(`/projects/${projects[0].id}/users/${user.body.user.id}/roles/${reader.id}`))
        .status,
      204,
    );
    const auditor = await new Api(cloud.app).login('auditor', 'pw', {
      project: { id: projects[0].id },
    });
    const list = await auditor.get('/projects');
    assert.equal(list.status, 200);
    assert.ok(list.body.projects.length >= 2);
    assert.equal(
      (await auditor.get('/users')).status,
      403,
      'rules not overridden keep their defaults',
    );
  });

  it('a broken policy file stops the start, naming the file and the rule', async () => {
    const bad = policyFile('"identity:list_users": "role:admin or ("\n');
    await assert.rejects(
      startTestCloud({ NUBES_POLICY_FILE: bad }),
      new RegExp(`policy file ${bad}: policy override identity:list_users: `),
    );
    await assert.rejects(
      startTestCloud({ NUBES_POLICY_FILE: '/nonexistent/policy.yaml' }),
      /policy file \/nonexistent\/policy.yaml: the file does not exist/,
    );
  });
});
