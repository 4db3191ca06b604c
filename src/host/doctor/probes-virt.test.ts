// The virtualization probes: the accelerator check is chooseAccelerator()'s answer, and the QEMU,
// qemu-img and genisoimage checks report what the binaries on this machine say, or what to install.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseAccelerator } from '../qemu/accel.ts';
import { exec, haveCommand } from '../exec.ts';
import { parseVersion } from './check.ts';
import { probeAccelerator, probeQemu, probeQemuImg, probeGenisoimage } from './probes-virt.ts';

const haveQemu = await haveCommand('qemu-system-x86_64');
const haveQemuImg = await haveCommand('qemu-img');

describe('accelerator', () => {
  let dir: string;
  let dev: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
    dev = join(dir, 'kvm');
    writeFileSync(dev, '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is ok with KVM when the device opens and the CPU has vmx', () => {
    const opts = { kvmDevice: dev, cpuinfo: 'processor : 0\nflags : fpu vme vmx sse\n' };
    const c = probeAccelerator(opts);
    assert.equal(chooseAccelerator(opts).accel, 'kvm');
    assert.deepEqual([c.status, c.detail, c.fix], ['ok', chooseAccelerator(opts).why, undefined]);
  });

  it('warns with TCG and its reason when the CPU shows no vmx/svm (a PVM host)', () => {
    const opts = { kvmDevice: dev, cpuinfo: 'flags : fpu vme sse\n' };
    const c = probeAccelerator(opts);
    assert.equal(c.status, 'warn');
    assert.equal(c.detail, chooseAccelerator(opts).why);
    assert.match(c.fix ?? '', /vmx\/svm/);
  });

  it('warns with TCG when the device does not open, and says how to get KVM', () => {
    const opts = { kvmDevice: join(dir, 'missing'), cpuinfo: 'flags : vmx\n' };
    const c = probeAccelerator(opts);
    assert.equal(c.status, 'warn');
    assert.equal(c.detail, chooseAccelerator(opts).why);
    assert.match(c.detail, /cannot be opened \(ENOENT\)/);
    assert.match(c.fix ?? '', /modprobe kvm_intel/);
  });

  it("on this machine, reports chooseAccelerator()'s own answer", () => {
    const choice = chooseAccelerator();
    const c = probeAccelerator();
    assert.equal(c.detail, choice.why);
    assert.equal(c.status, choice.accel === 'kvm' ? 'ok' : 'warn');
    assert.equal(c.essential, false);
  });
});

describe('QEMU, qemu-img, genisoimage', () => {
  it(
    'reports the version qemu-system-x86_64 prints and its accelerators',
    { skip: haveQemu ? false : 'QEMU is not installed' },
    async () => {
      const { stdout } = await exec(['qemu-system-x86_64', '--version']);
      const c = await probeQemu(true);
      assert.equal(c.status, 'ok');
      assert.equal(c.essential, true);
      assert.match(
        c.detail,
        new RegExp(
          `^qemu-system-x86_64 ${parseVersion(stdout)!.replace(/\./g, '\\.')}; accelerators: .*\\btcg\\b`,
        ),
      );
    },
  );

  it(
    'reports the version qemu-img prints',
    { skip: haveQemuImg ? false : 'qemu-img is not installed' },
    async () => {
      const { stdout } = await exec(['qemu-img', '--version']);
      const c = await probeQemuImg(false);
      assert.deepEqual(
        [c.status, c.detail, c.essential],
        ['ok', `qemu-img ${parseVersion(stdout)}`, false],
      );
    },
  );

  describe('with a PATH that holds only sh', () => {
    let dir: string;
    let path: string | undefined;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'nubes-doctor-'));
      symlinkSync('/bin/sh', join(dir, 'sh'));
      path = process.env['PATH'];
      process.env['PATH'] = dir;
    });
    after(() => {
      process.env['PATH'] = path;
      rmSync(dir, { recursive: true, force: true });
    });

    it('says no, and which Debian package to install, for each missing binary', async () => {
      const [qemu, img, iso] = await Promise.all([
        probeQemu(true),
        probeQemuImg(false),
        probeGenisoimage(false),
      ]);
      assert.deepEqual(
        [qemu.status, qemu.detail, qemu.fix, qemu.essential],
        [
          'no',
          'qemu-system-x86_64 is not installed',
          'apt install qemu-system-x86 qemu-utils',
          true,
        ],
      );
      assert.deepEqual(
        [img.status, img.fix, img.essential],
        ['no', 'apt install qemu-utils', false],
      );
      assert.match(img.detail, /^qemu-img is not installed; image uploads/);
      assert.deepEqual([iso.status, iso.fix], ['no', 'apt install genisoimage']);
      assert.match(iso.detail, /no config drive/);
    });
  });
});
