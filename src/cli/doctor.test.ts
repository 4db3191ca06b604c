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
import { doctorExitCode, formatChecks, verdict } from './doctor.ts';

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

  it('prints a table with one line per check, the fixes, and the verdict', () => {
    const text = formatChecks(healthy, { dataDir: '/var/lib/nubes', virtDriver: 'fake' });
    const lines = text.split('\n');
    assert.equal(lines[0], 'nubes doctor: this host (data dir /var/lib/nubes, virt driver fake)');
    assert.equal(lines[2], 'CHECK        STATUS  DETAIL');
    assert.equal(lines[3], 'node         ok      v26.10.0');
    assert.equal(lines[9], 'vlan         no      cannot be created: Error: Unknown device type.');
    assert.equal(lines[10], 'nftables     no      nft is not installed');
    assert.deepEqual(lines.slice(12, 16), [
      'What to do:',
      '  accelerator  use a host with vmx/svm',
      '  vlan         modprobe 8021q',
      '  nftables     apt install nftables',
    ]);
    assert.equal(
      lines[17],
      'Nubes can run here: the fake driver can, the qemu driver can (TCG); configured: fake. 3 checks need attention.',
    );
    assert.equal(lines[18], '');
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
      'Nubes cannot run here (virt driver qemu): qemu failed. 4 checks need attention.',
    );
    const fakeOnly = healthy.map((c) =>
      c.name === 'genisoimage' ? check('genisoimage', 'no', 'not installed') : c,
    );
    assert.equal(
      verdict(fakeOnly, 'fake'),
      'Nubes can run here: the fake driver can, the qemu driver cannot (genisoimage missing); configured: fake. 4 checks need attention.',
    );
    assert.equal(
      verdict([check('node', 'ok', 'v26')], 'fake'),
      'Nubes can run here: the fake driver can, the qemu driver can; configured: fake. Every check passed.',
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
        'accelerator',
        'qemu',
        'qemu-img',
        'genisoimage',
        'tiny image',
        ...NET_CHECKS,
        'dnsmasq',
        'cgroups',
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
