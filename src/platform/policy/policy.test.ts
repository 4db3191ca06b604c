import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Policy, type Credentials } from './policy.ts';
import { parseRule, RuleSyntaxError } from './rule-parser.ts';

const member: Credentials = {
  user_id: 'u1',
  user_domain_id: 'default',
  project_id: 'p1',
  project_domain_id: 'default',
  domain_id: null,
  system_scope: null,
  roles: ['member', 'reader'],
};
const sysReader: Credentials = {
  ...member,
  project_id: null,
  project_domain_id: null,
  system_scope: 'all',
  roles: ['reader'],
};

function policy(): Policy {
  const p = new Policy();
  p.register([
    { name: 'admin_required', check: 'role:admin' },
    { name: 'system_reader', check: 'role:reader and system_scope:all' },
    {
      name: 'op:get',
      check: 'rule:admin_required or rule:system_reader or user_id:%(target.user.id)s',
    },
    { name: 'op:open', check: '' },
    { name: 'op:never', check: '!' },
    { name: 'op:not', check: 'not role:admin' },
    { name: 'op:project', check: 'project_id:%(project_id)s and (role:member or role:admin)' },
  ]);
  return p;
}

test('role, rule, and target interpolation decide as oslo.policy does', () => {
  const p = policy();
  assert.equal(p.check('op:get', member, { target: { user: { id: 'u1' } } }), true);
  assert.equal(p.check('op:get', member, { target: { user: { id: 'u2' } } }), false);
  assert.equal(p.check('op:get', sysReader, { target: { user: { id: 'u2' } } }), true);
  assert.equal(p.check('op:project', member, { project_id: 'p1' }), true);
  assert.equal(p.check('op:project', member, { project_id: 'p2' }), false);
  assert.equal(p.check('op:project', member, {}), false, 'a missing target value never matches');
});

test('empty rule allows, ! denies, not negates, unknown action denies', () => {
  const p = policy();
  assert.equal(p.check('op:open', member), true);
  assert.equal(p.check('op:never', member), false);
  assert.equal(p.check('op:not', member), true);
  assert.equal(p.check('op:unregistered', { ...member, roles: ['admin'] }), false);
});

test('operator overrides win over defaults registered later', () => {
  const p = new Policy();
  p.override({ 'op:get': 'role:auditor' });
  p.register([{ name: 'op:get', check: 'role:member' }]);
  assert.equal(p.check('op:get', member), false);
  assert.equal(p.check('op:get', { ...member, roles: ['auditor'] }), true);
});

test('enforce throws a 403 naming the action', () => {
  assert.throws(
    () => policy().enforce('op:never', member),
    (e: any) => e.status === 403 && /op:never/.test(e.message),
  );
});

test('syntax errors are reported, precedence is and over or', () => {
  assert.throws(() => parseRule('role:admin and'), RuleSyntaxError);
  assert.throws(() => parseRule('(role:admin'), RuleSyntaxError);
  assert.throws(() => parseRule('admin'), RuleSyntaxError);
  assert.deepEqual(parseRule('role:a or role:b and role:c'), {
    kind: 'or',
    items: [
      { kind: 'role', role: 'a' },
      {
        kind: 'and',
        items: [
          { kind: 'role', role: 'b' },
          { kind: 'role', role: 'c' },
        ],
      },
    ],
  });
});
