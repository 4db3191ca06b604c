// The VM definition rendered into QEMU's argv, and that argv run by a real QEMU: it daemonizes,
// writes its pidfile, answers on its QMP socket in the instance directory, and keeps running
// after the process that started it is gone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderArgv, vmFiles, type VmDefinition } from './argv.ts';
import { chooseAccelerator } from './accel.ts';
import { connectQmp } from './qmp/monitor.ts';
import { qmpCommands, qomGet, queryUuid } from './qmp/commands.ts';
import { queryNamedBlockNodes } from './qmp/block.ts';
import { exec, haveCommand } from '../exec.ts';

const base = (dir: string, over: Partial<VmDefinition> = {}): VmDefinition => ({
  name: 'vm-1',
  uuid: '6f1b2c3d-0000-4000-8000-000000000001',
  accel: 'tcg',
  vcpus: 1,
  memoryMb: 64,
  dir,
  disks: [],
  nics: [],
  direct: null,
  hotplugPorts: 2,
  paused: false,
  incoming: null,
  ...over,
});

/** Running, not merely a zombie nobody reaped (a daemon's parent is init, which may be slow to). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('QEMU argv', () => {
  it('renders disks, NICs, ports and sockets, escaping commas in paths', () => {
    const argv = renderArgv(
      base('/var/lib/nubes/instances/a,b', {
        disks: [
          {
            id: 'root',
            path: '/x/disk,1.qcow2',
            format: 'qcow2',
            bus: 'virtio',
            readOnly: false,
            boot: true,
          },
          {
            id: 'config',
            path: '/x/config.iso',
            format: 'raw',
            bus: 'cdrom',
            readOnly: true,
            boot: false,
          },
        ],
        nics: [{ id: 'net0', mac: 'fa:16:3e:00:00:01', tap: 'tap0' }],
      }),
    );
    const joined = argv.join(' ');
    assert.match(joined, /filename=\/x\/disk,,1\.qcow2/);
    assert.match(joined, /virtio-blk-pci,id=root-dev,drive=root,bootindex=0/);
    assert.match(joined, /driver=raw,node-name=config,file=config-file,read-only=on/);
    assert.match(joined, /ide-cd,id=config-dev,drive=config/);
    assert.match(joined, /tap,id=net0,ifname=tap0,script=no,downscript=no/);
    assert.match(joined, /unix:\/var\/lib\/nubes\/instances\/a,,b\/qmp\.sock,server=on,wait=off/);
    assert.equal(argv.filter((a) => a.startsWith('pcie-root-port')).length, 2);
    assert.ok(argv.includes('-daemonize'));
    assert.ok(!argv.some((a) => /tcp:|0\.0\.0\.0/.test(a)), 'nothing listens on the network');
  });

  it('puts a disk with limits behind a throttle filter of its own group', () => {
    const argv = renderArgv(
      base('/d', {
        disks: [
          {
            id: 'root',
            path: '/r.qcow2',
            format: 'qcow2',
            bus: 'virtio',
            readOnly: false,
            boot: true,
            limits: { iopsTotal: 100, bpsRead: 1048576 },
          },
        ],
      }),
    );
    const joined = argv.join(' ');
    assert.match(joined, /-object throttle-group,id=root-tg,x-bps-read=1048576,x-iops-total=100 /);
    assert.match(
      joined,
      /-blockdev driver=throttle,node-name=root-thr,throttle-group=root-tg,file=root /,
    );
    assert.match(joined, /virtio-blk-pci,id=root-dev,drive=root-thr,bootindex=0/);
  });

  it('leaves the boot to the kernel loader on a direct boot', () => {
    const argv = renderArgv(
      base('/d', {
        direct: { kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' },
        disks: [
          {
            id: 'root',
            path: '/r.qcow2',
            format: 'qcow2',
            bus: 'virtio',
            readOnly: false,
            boot: true,
          },
        ],
      }),
    );
    assert.ok(!argv.join(' ').includes('bootindex'));
    assert.deepEqual(argv.slice(argv.indexOf('-kernel'), argv.indexOf('-kernel') + 6), [
      '-kernel',
      '/k',
      '-initrd',
      '/i',
      '-append',
      'console=ttyS0',
    ]);
  });
});

describe(
  'QEMU started from the argv',
  {
    skip: (await haveCommand('qemu-system-x86_64'))
      ? false
      : 'qemu-system-x86_64 is not installed (bin/nubes installs qemu-system-x86)',
  },
  () => {
    it('daemonizes with a pidfile and answers QMP on the socket in its directory', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nubes-vm-'));
      let pid = 0;
      try {
        // An empty disk: SeaBIOS finds nothing to boot and waits, which is all this needs; its I/O is capped.
        await exec(['qemu-img', 'create', '-q', '-f', 'raw', join(dir, 'd.raw'), '1M']);
        const disks = [
          {
            id: 'root',
            path: join(dir, 'd.raw'),
            format: 'raw' as const,
            bus: 'virtio' as const,
            readOnly: false,
            boot: true,
            limits: { iopsTotal: 100 },
          },
        ];
        await exec(
          [
            'qemu-system-x86_64',
            ...renderArgv(base(dir, { accel: chooseAccelerator().accel, disks })),
          ],
          { timeoutMs: 30_000 },
        );
        pid = Number(readFileSync(vmFiles(dir).pid, 'utf8').trim());
        assert.ok(alive(pid), 'QEMU runs on after the command that started it returned');
        const m = await connectQmp(vmFiles(dir).qmp);
        const qmp = qmpCommands(m);
        assert.equal(await qmp.status(), 'running');
        assert.equal(await queryUuid(m), base(dir).uuid);
        const nodes = await queryNamedBlockNodes(m);
        assert.ok(
          nodes.some((n) => n.nodeName === 'root-thr' && n.driver === 'throttle'),
          "the guest's disk goes through the throttle node",
        );
        const limits = (await qomGet(m, '/objects/root-tg', 'limits')) as Record<string, number>;
        assert.equal(limits['iops-total'], 100);
        await qmp.quit();
        await m.closed;
        for (let n = 0; n < 50 && alive(pid); n++) await new Promise((r) => setTimeout(r, 20));
        assert.ok(!alive(pid), 'quit ends the process');
      } finally {
        if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
