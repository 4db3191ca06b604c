// `nubes doctor`: the report and exit status for given checks, and the real command on this
// machine (bin/nubes, as an operator runs it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, type Check } from '../host/doctor/check.ts';
import { NET_CHECKS } from '../host/doctor/probes-net.ts';
import { doctorExitCode, doctorTarget, formatChecks, verdict } from './doctor.ts';
import { assessFeatures, needingAttention } from './doctor-features.ts';

const healthy: Check[] = [
  check('node', 'ok', 'v26.10.0', { essential: true }),
  check('data dir', 'ok', '/var/lib/nubes: 70.0 GiB free', { essential: true }),
  check('accelerator', 'warn', 'TCG: /dev/kvm opens but the CPU shows no vmx/svm', {
    fix: 'use a host with vmx/svm',
  }),
  check('qemu', 'ok', 'qemu-system-x86_64 7.2.22'),
  check('qemu-img', 'ok', 'qemu-img 7.2.22'),
  check('genisoimage', 'ok', 'genisoimage 1.1.11'),
  check('vlan', 'no', 'cannot be created: Error: Unknown device type.', { fix: 'modprobe 8021q' }),
  check('nftables', 'no', 'nft is not installed', { fix: 'apt install nftables' }),
];

describe('doctor report', () => {
  it('is 0 when only non-essential checks fail or warn', () => {
    assert.equal(doctorExitCode(healthy), 0);
  });

  it('is 1 when an essential check says no, and not for an essential warn', () => {
    assert.equal(
      doctorExitCode([...healthy, check('data dir', 'no', 'NOT writable', { essential: true })]),
      1,
    );
    assert.equal(
      doctorExitCode([check('data dir', 'warn', '3.0 GiB free', { essential: true })]),
      0,
    );
  });

  it('prints the checks, the features they make ready, the fixes, and the verdict', () => {
    const text = formatChecks(healthy, {
      dataDir: '/var/lib/nubes',
      virtDriver: 'fake',
      source: 'as configured',
    });
    const lines = text.split('\n');
    assert.equal(
      lines[0],
      'nubes doctor: this host (data dir /var/lib/nubes, as configured; virt driver fake)',
    );
    assert.equal(lines[2], 'CHECK        STATUS  DETAIL');
    assert.equal(lines[3], 'node         ok      v26.10.0');
    assert.equal(lines[9], 'vlan         no      cannot be created: Error: Unknown device type.');
    assert.equal(lines[10], 'nftables     no      nft is not installed');
    const features = lines.slice(12, lines.indexOf('', 12));
    assert.match(features[0]!, /^FEATURE +STATE +WHY$/);
    const state = (name: string) => features.find((l) => l.startsWith(`${name}  `))?.slice(47);
    // 'data dir mode' and others were not run in this list: they count as 'no'.
    assert.equal(state('boot VMs on KVM')?.trim(), 'not ready         accelerator warn');
    assert.equal(state('boot VMs on TCG (the slow fallback)')?.trim(), 'ready');
    assert.equal(state('config drives')?.trim(), 'ready');
    assert.match(
      state('networking (coming)') ?? '',
      /^not needed today {2}not built yet; later it needs .*vlan no, .*nftables no/,
    );
    const rest = lines.slice(12 + features.length + 1);
    assert.deepEqual(rest.slice(0, 2), ['What to do:', '  accelerator  use a host with vmx/svm']);
    assert.deepEqual(rest.slice(3, 6), [
      'Not needed today (for features still to come):',
      '  vlan         modprobe 8021q',
      '  nftables     apt install nftables',
    ]);
    assert.equal(
      rest[7],
      'Nubes can run here: the fake driver can, the qemu driver can (TCG); configured: fake. 1 check needs attention.',
    );
    assert.equal(rest[8], '');
  });

  it('does not count checks only features still to come need (networking)', () => {
    const networkOnly = [check('node', 'ok', 'v26'), ...NET_CHECKS.map((n) => check(n, 'no', 'x'))];
    assert.equal(
      verdict(networkOnly, 'fake'),
      'Nubes can run here: the fake driver can, the qemu driver can; configured: fake. Every check needed today passed.',
    );
    assert.deepEqual(
      assessFeatures(networkOnly)
        .filter((f) => !f.feature.built)
        .map((f) => f.state),
      ['not needed today', 'not needed today', 'not needed today'],
    );
  });

  it('counts a check needed today, and one no feature claims, as needing attention', () => {
    const names = needingAttention([
      check('data dir mode', 'no', '0755'),
      check('dnsmasq', 'no', 'missing'),
      check('something new', 'warn', 'x'),
    ]).map((c) => c.name);
    assert.deepEqual(names, ['data dir mode', 'something new']);
  });

  it('says which essential checks stop the cloud, and when the qemu driver cannot run', () => {
    const broken = healthy.map((c) =>
      c.name === 'qemu'
        ? check('qemu', 'no', 'not installed', {
            essential: true,
            fix: 'apt install qemu-system-x86 qemu-utils',
          })
        : c,
    );
    assert.equal(
      verdict(broken, 'qemu'),
      'Nubes cannot run here (virt driver qemu): qemu failed. 2 checks need attention.',
    );
    const fakeOnly = healthy.map((c) =>
      c.name === 'genisoimage' ? check('genisoimage', 'no', 'not installed') : c,
    );
    assert.equal(
      verdict(fakeOnly, 'fake'),
      'Nubes can run here: the fake driver can, the qemu driver cannot (genisoimage missing); configured: fake. 2 checks need attention.',
    );
    assert.equal(
      verdict([check('node', 'ok', 'v26')], 'fake'),
      'Nubes can run here: the fake driver can, the qemu driver can; configured: fake. Every check needed today passed.',
    );
  });
});

describe('which data dir doctor reports on', () => {
  const running = (pid: number, dataDir: string) =>
    ({ pid, dataDir, virtDriver: 'qemu', publicUrl: 'http://127.0.0.1:5000' }) as const;
  const byDefault = { dataDir: '/var/lib/nubes', dataDirSet: false, virtDriver: 'fake' } as const;

  it('takes the configured one first', () => {
    const t = doctorTarget({ ...byDefault, dataDirSet: true }, [running(7, '/srv/cloud')]);
    assert.deepEqual(t, { dataDir: '/var/lib/nubes', virtDriver: 'fake', source: 'as configured' });
  });

  it("else the running nubes up's, with its virt driver", () => {
    assert.deepEqual(doctorTarget(byDefault, [running(7, '/srv/cloud')]), {
      dataDir: '/srv/cloud',
      virtDriver: 'qemu',
      source: "the running nubes up's (pid 7)",
    });
  });

  it('else the default, saying why', () => {
    assert.equal(doctorTarget(byDefault, []).source, 'the default; no nubes up runs here');
    const two = doctorTarget(byDefault, [running(7, '/a'), running(8, '/b')]);
    assert.equal(two.dataDir, '/var/lib/nubes');
    assert.match(
      two.source,
      /2 clouds run here with other data dirs \(\/a, \/b\): choose one with --data-dir/,
    );
    assert.equal(
      doctorTarget(byDefault, [running(7, '/a'), running(8, '/var/lib/nubes')]).source,
      "the running nubes up's (pid 8; 1 more run: choose with --data-dir)",
    );
  });
});

describe('bin/nubes doctor on this machine', () => {
  it('names every check and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    try {
      const bin = new URL('../../bin/nubes', import.meta.url).pathname;
      const { code, stdout, stderr } = await new Promise<{
        code: number | null;
        stdout: string;
        stderr: string;
      }>((res) => {
        execFile(
          bin,
          ['doctor', '--data-dir', dataDir],
          { timeout: 120_000 },
          (err, stdout, stderr) =>
            res({
              code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
              stdout,
              stderr,
            }),
        );
      });
      assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
      const rows = stdout.split('\n');
      const names = [
        'node',
        'data dir',
        'data dir mode',
        'accelerator',
        'qemu',
        'qemu-img',
        'genisoimage',
        'tiny image',
        ...NET_CHECKS,
        'dnsmasq',
        'cgroups',
        'novnc',
      ];
      for (const name of names) {
        assert.ok(
          rows.some((r) => new RegExp(`^${name} +(ok|no|warn)  `).test(r)),
          `no row for ${name} in:\n${stdout}`,
        );
      }
      assert.ok(
        rows.some((r) => new RegExp(`^data dir +(ok|warn) +${dataDir}: `).test(r)),
        stdout,
      );
      assert.match(stdout, /^Nubes can run here: /m);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
