// The identity section's password rules: off unless configured, read from the file or environment
// with Keystone's names, and a password_regex that does not compile refused at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../cli/config.ts';
import { PASSWORD_RULES_OFF } from './service/password-rules.ts';

const load = (env: Record<string, string>) =>
  loadConfig({
    flags: {},
    env: { NUBES_DATA_DIR: '/nonexistent', ...env },
    configFile: '/dev/null',
  });

test('every lockout and password rule is off by default, as in Keystone', () => {
  assert.deepEqual(load({}).identity.passwordRules, PASSWORD_RULES_OFF);
  assert.equal(PASSWORD_RULES_OFF.lockoutFailureAttempts, null);
  assert.equal(PASSWORD_RULES_OFF.passwordRegex, null);
  assert.equal(PASSWORD_RULES_OFF.passwordExpiresDays, null);
  assert.equal(PASSWORD_RULES_OFF.uniqueLastPasswordCount, 0);
  assert.equal(PASSWORD_RULES_OFF.changePasswordUponFirstUse, false);
  assert.equal(PASSWORD_RULES_OFF.disableUserAccountDaysInactive, null);
});

test('the rules are read from the environment', () => {
  const rules = load({
    NUBES_LOCKOUT_FAILURE_ATTEMPTS: '5',
    NUBES_LOCKOUT_DURATION: '120',
    NUBES_PASSWORD_REGEX: '^.{12,}$',
    NUBES_PASSWORD_REGEX_DESCRIPTION: '12 characters or more',
    NUBES_PASSWORD_EXPIRES_DAYS: '90',
    NUBES_UNIQUE_LAST_PASSWORD_COUNT: '4',
    NUBES_MINIMUM_PASSWORD_AGE: '1',
    NUBES_CHANGE_PASSWORD_UPON_FIRST_USE: 'on',
    NUBES_DISABLE_USER_ACCOUNT_DAYS_INACTIVE: '60',
  }).identity.passwordRules;
  assert.deepEqual(rules, {
    lockoutFailureAttempts: 5,
    lockoutDurationSeconds: 120,
    passwordRegex: '^.{12,}$',
    passwordRegexDescription: '12 characters or more',
    passwordExpiresDays: 90,
    uniqueLastPasswordCount: 4,
    minimumPasswordAgeDays: 1,
    changePasswordUponFirstUse: true,
    disableUserAccountDaysInactive: 60,
  });
});

test('a password_regex that does not compile stops the start, naming the setting', () => {
  assert.throws(
    () => load({ NUBES_PASSWORD_REGEX: '^(unclosed' }),
    (e: unknown) =>
      e instanceof ConfigError && /identity\.security_compliance\.password_regex/.test(e.message),
  );
});
