import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from './config.ts';

function yamlFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'nubes-config-')), 'nubes.yaml');
  writeFileSync(f, text);
  return f;
}

test('precedence: defaults, then the file, then the environment, then flags', () => {
  const configFile = yamlFile(
    'listen: 127.0.0.1:6000\nregion: FileRegion\nlog_level: debug\nidentity:\n  token_ttl_seconds: 600\n',
  );
  const fileOnly = loadConfig({ flags: {}, env: {}, configFile });
  assert.deepEqual(fileOnly.listen, { host: '127.0.0.1', port: 6000 });
  assert.equal(fileOnly.region, 'FileRegion');
  assert.equal(fileOnly.identity.tokenTtlSeconds, 600);
  assert.equal(fileOnly.identity.maxActiveKeys, 3, 'a default where nothing sets it');
  assert.equal(fileOnly.publicUrl, 'http://127.0.0.1:6000');

  const env = { NUBES_REGION: 'EnvRegion', NUBES_LISTEN: '127.0.0.1:7000' };
  const withEnv = loadConfig({ flags: {}, env, configFile });
  assert.equal(withEnv.region, 'EnvRegion');
  assert.equal(withEnv.logLevel, 'debug', 'the file still counts where env says nothing');

  const withFlags = loadConfig({ flags: { '--region': 'FlagRegion' }, env, configFile });
  assert.equal(withFlags.region, 'FlagRegion');
  assert.deepEqual(withFlags.listen, { host: '127.0.0.1', port: 7000 });
});

test('the default config file is <data-dir>/nubes.yaml', () => {
  const f = yamlFile('region: InDataDir\n');
  const dataDir = join(f, '..');
  const c = loadConfig({ flags: { '--data-dir': dataDir }, env: {} });
  assert.equal(c.region, 'InDataDir');
  assert.equal(c.database, join(dataDir, 'nubes.db'), 'SQLite in the data dir by default');
  assert.equal(c.bus, 'memory');
});

test('a bad value stops with a message naming the setting and where it came from', () => {
  const cases: [() => unknown, RegExp][] = [
    [
      () => loadConfig({ flags: { '--listen': 'nowhere' }, env: {}, configFile: '/dev/null' }),
      /listen \(flag --listen\) must be HOST:PORT/,
    ],
    [
      () =>
        loadConfig({ flags: {}, env: { NUBES_TOKEN_TTL_SECONDS: '-5' }, configFile: '/dev/null' }),
      /identity.token_ttl_seconds \(env NUBES_TOKEN_TTL_SECONDS\) must be a positive integer/,
    ],
    [
      () => loadConfig({ flags: { '--bus': 'redis://x' }, env: {}, configFile: '/dev/null' }),
      /bus must be 'memory' or amqp/,
    ],
    [
      () => loadConfig({ flags: { '--log-level': 'loud' }, env: {}, configFile: '/dev/null' }),
      /log_level .* must be one of/,
    ],
    [
      () =>
        loadConfig({
          flags: { '--public-url': 'http://x/path' },
          env: {},
          configFile: '/dev/null',
        }),
      /public_url must be scheme:\/\/host\[:port\] with no path/,
    ],
    [
      () => loadConfig({ flags: {}, env: {}, configFile: '/nonexistent/nubes.yaml' }),
      /does not exist/,
    ],
    [
      () => loadConfig({ flags: {}, env: {}, configFile: yamlFile('- a list\n') }),
      /expected a mapping/,
    ],
    [
      () => loadConfig({ flags: {}, env: {}, configFile: yamlFile('listen: [unclosed\n') }),
      /config file .*nubes.yaml/,
    ],
  ];
  for (const [load, message] of cases)
    assert.throws(
      load,
      (e: Error) => e instanceof ConfigError && message.test(e.message),
      String(message),
    );
});

test('a misspelt setting in the file is an error, not silently ignored', () => {
  const f = yamlFile('databse: postgres://x\nidentity:\n  token_ttl: 5\n');
  assert.throws(
    () => loadConfig({ flags: {}, env: {}, configFile: f }),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /unknown setting 'databse', 'identity.token_ttl'/);
      return true;
    },
  );
});

test('the virt driver is qemu when qemu-system-x86_64 is on the PATH, fake otherwise, and what is set wins', () => {
  const bin = mkdtempSync(join(tmpdir(), 'nubes-path-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'nubes-config-'));
  assert.equal(
    loadConfig({ flags: { '--data-dir': dataDir }, env: { PATH: bin } }).virtDriver,
    'fake',
  );
  writeFileSync(join(bin, 'qemu-system-x86_64'), '#!/bin/sh\n', { mode: 0o644 });
  assert.equal(
    loadConfig({ flags: { '--data-dir': dataDir }, env: { PATH: bin } }).virtDriver,
    'fake',
    'a file that is not executable does not count',
  );
  chmodSync(join(bin, 'qemu-system-x86_64'), 0o755);
  assert.equal(
    loadConfig({ flags: { '--data-dir': dataDir }, env: { PATH: `/nonexistent::${bin}` } })
      .virtDriver,
    'qemu',
  );
  assert.equal(
    loadConfig({ flags: { '--data-dir': dataDir, '--virt-driver': 'fake' }, env: { PATH: bin } })
      .virtDriver,
    'fake',
  );
});

test("the agent's console proxy: none by default, a listener with its URL, or a public URL of its own", () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nubes-config-'));
  assert.deepEqual(loadConfig({ flags: { '--data-dir': dataDir }, env: {} }).console, {
    listen: null,
    publicUrl: null,
  });
  const listening = loadConfig({
    flags: { '--data-dir': dataDir, '--console-listen': '0.0.0.0:6080' },
    env: {},
  });
  assert.deepEqual(listening.console, {
    listen: { host: '0.0.0.0', port: 6080 },
    publicUrl: 'http://127.0.0.1:6080',
  });
  const named = loadConfig({
    flags: { '--data-dir': dataDir },
    env: {
      NUBES_CONSOLE_LISTEN: '10.0.0.5:6080',
      NUBES_CONSOLE_PUBLIC_URL: 'https://console.example.com/',
    },
  });
  assert.equal(named.console.publicUrl, 'https://console.example.com');
  assert.throws(
    () =>
      loadConfig({
        flags: { '--data-dir': dataDir, '--console-public-url': 'https://x/console' },
        env: {},
      }),
    ConfigError,
  );
  assert.throws(
    () => loadConfig({ flags: { '--data-dir': dataDir, '--console-listen': 'nowhere' }, env: {} }),
    ConfigError,
  );
});
