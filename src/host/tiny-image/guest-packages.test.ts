// The guest's Debian packages: how apt's answers are read, and the plan of host commands that
// brings them into the build cache, which downloads and unpacks and never installs (issue 15,
// item 12: the first run installed a kernel and replaced the host's busybox to build the image).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDepends, parsePrintUris, planGuestPackages } from './guest-packages.ts';

const KERNEL = {
  name: 'linux-image-6.1.0-50-amd64',
  file: 'linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb',
};
const BUSYBOX = {
  name: 'busybox-static',
  file: 'busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb',
};
const DROPBEAR = { name: 'dropbear-bin', file: 'dropbear-bin_2022.83-1+deb12u3_amd64.deb' };
const TOMCRYPT = { name: 'libtomcrypt1', file: 'libtomcrypt1_1.18.2-6_amd64.deb' };

describe('guest packages', () => {
  it("reads each package's dependencies from apt-cache depends, first alternatives only", () => {
    const out = [
      'linux-image-amd64',
      '  Depends: linux-image-6.1.0-50-amd64',
      'busybox-static',
      'dropbear-bin',
      '  Depends: libc6',
      '  Depends: libcrypt1',
      ' |Depends: libtomcrypt1',
      '  Depends: libtomcrypt-alt',
      '  PreDepends: zlib1g:any',
      '  Depends: <virtual-thing>',
      '',
    ].join('\n');
    assert.deepEqual(
      [...parseDepends(out)],
      [
        ['linux-image-amd64', ['linux-image-6.1.0-50-amd64']],
        ['busybox-static', []],
        ['dropbear-bin', ['libc6', 'libcrypt1', 'libtomcrypt1', 'zlib1g']],
      ],
    );
  });

  it('reads the file names apt-get download gives', () => {
    const out = [
      `'http://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1.35.0-4%2bdeb12u1%2bb1_amd64.deb' ${BUSYBOX.file} 928188 SHA256:3d3f`,
      `'http://deb.debian.org/debian/pool/main/l/linux-signed-amd64/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb' ${KERNEL.file} 70305560 SHA256:7b55`,
    ].join('\n');
    assert.deepEqual(parsePrintUris(out), [BUSYBOX.file, KERNEL.file]);
  });

  it('plans downloads and unpacking into the cache, and installs nothing on the host', () => {
    const plan = planGuestPackages({
      packages: [KERNEL, BUSYBOX, DROPBEAR, TOMCRYPT],
      have: new Set([DROPBEAR.file]),
      debsDir: '/cache/packages/debs',
      downloadDir: '/cache/packages/.unpack-1/download',
      rootDir: '/cache/packages/.unpack-1/root',
      asRoot: true,
    });
    assert.deepEqual(plan, [
      {
        argv: [
          'apt-get',
          '-o',
          'APT::Sandbox::User=root',
          'download',
          KERNEL.name,
          BUSYBOX.name,
          TOMCRYPT.name,
        ],
        cwd: '/cache/packages/.unpack-1/download',
      },
      ...[KERNEL, BUSYBOX, DROPBEAR, TOMCRYPT].map((p) => ({
        argv: [
          'dpkg-deb',
          '-x',
          `/cache/packages/debs/${p.file}`,
          '/cache/packages/.unpack-1/root',
        ],
      })),
      { argv: ['depmod', '-b', '/cache/packages/.unpack-1/root', '6.1.0-50-amd64'] },
    ]);
    for (const { argv } of plan) {
      assert.ok(!argv.includes('install'), argv.join(' '));
      assert.ok(!['dpkg', 'apt', 'aptitude'].includes(argv[0]!), argv.join(' '));
      // Every unpack and depmod stays below the build cache.
      if (argv[0] !== 'apt-get')
        assert.ok(argv.at(-1)!.startsWith('/cache/') || argv[0] === 'depmod');
    }
    const cached = planGuestPackages({
      packages: [BUSYBOX],
      have: new Set([BUSYBOX.file]),
      debsDir: '/c/debs',
      downloadDir: '/c/dl',
      rootDir: '/c/root',
      asRoot: false,
    });
    assert.deepEqual(cached, [{ argv: ['dpkg-deb', '-x', `/c/debs/${BUSYBOX.file}`, '/c/root'] }]);
  });

  it("the first run's host packages no longer include the guest's kernel, busybox or dropbear", () => {
    const script = readFileSync(new URL('../../../scripts/bootstrap.sh', import.meta.url), 'utf8');
    const list = /NUBES_HOST_PACKAGES=\(([^)]*)\)/.exec(script)?.[1]?.split(/\s+/) ?? [];
    assert.ok(list.includes('qemu-utils'), list.join(' '));
    for (const pkg of ['linux-image-amd64', 'busybox-static', 'busybox', 'dropbear-bin'])
      assert.ok(!list.includes(pkg), `${pkg} in NUBES_HOST_PACKAGES`);
  });
});
