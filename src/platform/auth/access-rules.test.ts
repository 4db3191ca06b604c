// Access rule matching as Keystone's middleware does it: service, method and path template, where
// `*` and `{name}` take one segment and `**` any tail; literal text (dots included) only itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allowedByAccessRules, pathMatches, type AccessRule } from './access-rules.ts';

const rule = (service: string, method: AccessRule['method'], path: string): AccessRule => ({
  id: 'r',
  service,
  method,
  path,
});

describe('access rule paths', () => {
  it('matches literal paths exactly', () => {
    assert.ok(pathMatches('/v2.1/servers', '/v2.1/servers'));
    assert.ok(!pathMatches('/v2.1/servers/detail', '/v2.1/servers'));
    assert.ok(!pathMatches('/v2.1/server', '/v2.1/servers'));
    assert.ok(!pathMatches('/v2x1/servers', '/v2.1/servers'), 'a dot is a dot, not any character');
  });

  it('takes one segment for * and {name}, any tail for **', () => {
    assert.ok(pathMatches('/v2.1/servers/abc', '/v2.1/servers/*'));
    assert.ok(!pathMatches('/v2.1/servers/abc/metadata', '/v2.1/servers/*'));
    assert.ok(!pathMatches('/v2.1/servers/', '/v2.1/servers/*'));
    assert.ok(pathMatches('/v2.1/servers/abc/metadata', '/v2.1/servers/{server_id}/metadata'));
    assert.ok(!pathMatches('/v2.1/servers/a/b/metadata', '/v2.1/servers/{server_id}/metadata'));
    assert.ok(pathMatches('/v2.1/servers/abc/metadata/k', '/v2.1/servers/**'));
    assert.ok(pathMatches('/v2.1/servers/', '/v2.1/servers/**'));
    assert.ok(!pathMatches('/v2.1/os-keypairs', '/v2.1/servers/**'));
    assert.ok(pathMatches('/v2.1/servers/abc/action', '/v2.1/servers/*/action'));
  });

  it('treats regular-expression characters in a template as text', () => {
    assert.ok(!pathMatches('/v2/images', '/v2/(images|x)'));
    assert.ok(pathMatches('/v2/(images|x)', '/v2/(images|x)'));
    assert.ok(!pathMatches('/v2/imagesss', '/v2/images+'));
  });
});

describe('allowedByAccessRules', () => {
  const rules = [rule('compute', 'GET', '/v2.1/servers'), rule('image', 'GET', '/v2/images/*')];

  it('allows only a request one rule names by service, method and path', () => {
    assert.ok(
      allowedByAccessRules(rules, { service: 'compute', method: 'GET', path: '/v2.1/servers' }),
    );
    assert.ok(
      !allowedByAccessRules(rules, { service: 'compute', method: 'POST', path: '/v2.1/servers' }),
    );
    assert.ok(
      !allowedByAccessRules(rules, { service: 'image', method: 'GET', path: '/v2.1/servers' }),
    );
    assert.ok(
      allowedByAccessRules(rules, { service: 'image', method: 'GET', path: '/v2/images/x' }),
    );
    assert.ok(
      !allowedByAccessRules(rules, { service: 'image', method: 'DELETE', path: '/v2/images/x' }),
    );
    assert.ok(
      !allowedByAccessRules(rules, { service: 'compute', method: 'HEAD', path: '/v2.1/servers' }),
    );
  });

  it('allows anything without rules, and token validation whatever the rules', () => {
    assert.ok(allowedByAccessRules([], { service: 'compute', method: 'DELETE', path: '/v2.1/x' }));
    assert.ok(
      allowedByAccessRules(rules, { service: 'identity', method: 'GET', path: '/v3/auth/tokens' }),
    );
    assert.ok(
      !allowedByAccessRules(rules, {
        service: 'identity',
        method: 'DELETE',
        path: '/v3/auth/tokens',
      }),
    );
    assert.ok(
      !allowedByAccessRules(rules, { service: 'identity', method: 'GET', path: '/v3/users' }),
    );
  });

  it('never matches the rule a stored rule that does not parse becomes', () => {
    const none = [rule('', 'GET', '')];
    assert.ok(!allowedByAccessRules(none, { service: 'compute', method: 'GET', path: '' }));
    assert.ok(!allowedByAccessRules(none, { service: '', method: 'GET', path: '' }));
  });
});
