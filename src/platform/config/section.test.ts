// Sections join without knowing each other: a new one adds its settings, values and fields and
// leaves the others' as they were; two sections claiming one key, variable, flag or field fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, defineSection, settingsOf, type ConfigSection } from './section.ts';
import { readSettings } from './sources.ts';
import { ConfigError } from './setting.ts';

const ctx = { env: {}, dataDir: '/data' };

const base = defineSection({
  settings: [{ key: 'region', env: 'X_REGION', flag: '--region', kind: 'string', help: 'region' }],
  resolve: (v, { dataDir }) => ({ region: v.region ?? 'RegionOne', dataDir }),
});

const disks = defineSection({
  settings: [
    { key: 'disks.size_gb', env: 'X_DISK_GB', kind: 'int', help: 'disk size' },
    { key: 'disks.format', env: 'X_FORMAT', kind: { oneOf: ['qcow2', 'raw'] }, help: 'format' },
  ],
  resolve: (v, { dataDir }) => ({
    disks: { sizeGb: v['disks.size_gb'] ?? 10, format: v['disks.format'] ?? 'qcow2', dataDir },
  }),
});

/** What a new service adds: one section, with settings and a field of its own. */
const network = defineSection({
  settings: [
    { key: 'network.mtu', env: 'X_MTU', flag: '--mtu', kind: 'int', help: 'MTU' },
    { key: 'network.dhcp', env: 'X_DHCP', kind: 'switch', help: 'DHCP' },
  ],
  resolve: (v) => ({ network: { mtu: v['network.mtu'] ?? 1500, dhcp: v['network.dhcp'] ?? true } }),
});

function load<const T extends readonly ConfigSection[]>(
  sections: T,
  env: NodeJS.ProcessEnv,
  yaml = '',
) {
  const file = join(mkdtempSync(join(tmpdir(), 'nubes-section-')), 'nubes.yaml');
  writeFileSync(file, yaml);
  const values = readSettings(settingsOf(sections), { flags: {}, env, file: { named: file } });
  return assemble(sections, values, ctx);
}

test('a new section plugs in: its settings are read, and the other sections give what they gave', () => {
  const env = { X_REGION: 'R2', X_DISK_GB: '20', X_MTU: '9000' };
  const before = load([base, disks], env);
  const after = load([base, disks, network], env);
  assert.deepEqual(before, {
    region: 'R2',
    dataDir: '/data',
    disks: { sizeGb: 20, format: 'qcow2', dataDir: '/data' },
  });
  assert.deepEqual(after, { ...before, network: { mtu: 9000, dhcp: true } });
  assert.deepEqual(
    settingsOf([base, disks, network]).map((s) => s.key),
    ['region', 'disks.size_gb', 'disks.format', 'network.mtu', 'network.dhcp'],
    'its settings are listed after the others',
  );
  assert.deepEqual(load([base, disks, network], {}, 'network:\n  dhcp: off\n').network, {
    mtu: 1500,
    dhcp: false,
  });
  assert.throws(
    () => load([base, disks], {}, 'network:\n  dhcp: off\n'),
    /unknown setting 'network.dhcp'/,
    'without the section its keys are unknown',
  );
});

test('the assembled configuration is frozen all the way down', () => {
  const c = load([base, disks], {});
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.disks));
  assert.throws(() => {
    (c.disks as { sizeGb: number }).sizeGb = 1;
  }, TypeError);
});

test('a choice names its words when the value is none of them', () => {
  assert.throws(
    () => load([disks], { X_FORMAT: 'vmdk' }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message === 'disks.format (env X_FORMAT) must be qcow2 or raw, got "vmdk"',
  );
});

test('two sections cannot claim one key, variable, flag or field', () => {
  const clash = (over: object) =>
    defineSection({
      settings: [{ key: 'other', env: 'X_OTHER', kind: 'string', help: 'other', ...over }],
      resolve: () => ({}),
    });
  assert.throws(() => settingsOf([base, clash({ key: 'region' })]), /the key region/);
  assert.throws(() => settingsOf([base, clash({ env: 'X_REGION' })]), /the env X_REGION/);
  assert.throws(() => settingsOf([base, clash({ flag: '--region' })]), /the flag --region/);
  const sameField = defineSection({ settings: [], resolve: () => ({ region: 'mine' }) });
  assert.throws(
    () => load([base, sameField], {}),
    /two configuration sections make the field region/,
  );
});
