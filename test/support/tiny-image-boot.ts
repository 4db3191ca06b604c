// Boots a tiny-image guest in QEMU for tests: serial log to a file, a QMP socket, user-mode (slirp)
// networking restricted to the VM, optional loopback ssh forward and metadata forward. Test-only:
// the cloud's real VMs go through the compute driver. Callers must kill() in a finally.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chooseAccelerator } from '../../src/host/qemu/accel.ts';

/** KVM only when it opens and the CPU has vmx/svm (a PVM host's /dev/kvm cannot run a stock kernel). */
export const accelerator = (): 'kvm' | 'tcg' => chooseAccelerator().accel;

export interface TestDrive {
  readonly file: string;
  readonly format: 'raw' | 'qcow2';
  /** virtio disk, or a cdrom on the machine's IDE/SATA bus (AHCI on q35). */
  readonly as: 'virtio' | 'cdrom';
  readonly readonly?: boolean;
}

export interface TestVmOptions {
  /** Holds serial.log and qmp.sock. */
  readonly workDir: string;
  /** The boot disk (virtio, bootindex 0). */
  readonly disk?: string;
  /** Direct kernel boot instead of the disk's boot loader. */
  readonly direct?: { readonly kernel: string; readonly ramdisk: string; readonly cmdline: string };
  readonly drives?: readonly TestDrive[];
  /** 'user': slirp with DHCP; 'unplugged': a NIC with no network behind it (DHCP fails); 'none'. */
  readonly net?: 'user' | 'unplugged' | 'none';
  /** Loopback port forwarded to the guest's port 22. */
  readonly sshPort?: number;
  /**
   * Loopback port of an HTTP server that plays the metadata service: the guest network becomes
   * 169.254.169.0/24 and TCP to 169.254.169.254:80 is relayed to it (QEMU guestfwd + busybox nc).
   */
  readonly metadataPort?: number;
  readonly memoryMiB?: number;
  /** Empty PCIe root ports rp1..rpN, so devices can be hot-plugged later (q35 needs them at start). */
  readonly hotplugPorts?: number;
}

export interface TestVm {
  readonly serialLog: string;
  readonly startedAt: number;
  serial(): string;
  /** Resolves with milliseconds since start when the serial log matches; rejects on timeout or exit. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<number>;
  /** Runs one QMP command (after qmp_capabilities) and returns its "return" value. */
  qmp(execute: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Resolves with the exit code when QEMU exits by itself, or null on timeout. */
  waitExit(timeoutMs: number): Promise<number | null>;
  kill(): Promise<void>;
}

export function qemuArgs(o: TestVmOptions): string[] {
  const args = [
    '-machine',
    'q35',
    '-accel',
    accelerator(),
    '-m',
    String(o.memoryMiB ?? 256),
    '-smp',
    '1',
    '-nodefaults',
    '-display',
    'none',
    '-no-user-config',
    '-serial',
    `file:${join(o.workDir, 'serial.log')}`,
    '-qmp',
    `unix:${join(o.workDir, 'qmp.sock')},server=on,wait=off`,
  ];
  for (let i = 1; i <= (o.hotplugPorts ?? 0); i++)
    args.push('-device', `pcie-root-port,id=rp${i},bus=pcie.0,chassis=${i}`);
  if (o.disk) {
    // With -kernel, QEMU's linuxboot ROM takes boot index 0 itself.
    const boot = o.direct ? '' : ',bootindex=0';
    args.push(
      '-drive',
      `if=none,id=disk0,file=${o.disk},format=qcow2`,
      '-device',
      `virtio-blk-pci,drive=disk0${boot}`,
    );
  }
  (o.drives ?? []).forEach((d, i) => {
    const ro = d.readonly || d.as === 'cdrom' ? ',readonly=on' : '';
    if (d.as === 'virtio')
      args.push(
        '-drive',
        `if=none,id=extra${i},file=${d.file},format=${d.format}${ro}`,
        '-device',
        `virtio-blk-pci,drive=extra${i}`,
      );
    else args.push('-drive', `if=ide,media=cdrom,index=${i + 1},file=${d.file},format=${d.format}`);
  });
  if (o.direct)
    args.push('-kernel', o.direct.kernel, '-initrd', o.direct.ramdisk, '-append', o.direct.cmdline);
  const net = o.net ?? 'user';
  if (net === 'user') {
    // restrict=on: the guest reaches nothing outside QEMU except the forwards below.
    let user = 'user,id=net0,restrict=on';
    if (o.metadataPort !== undefined) {
      user +=
        ',net=169.254.169.0/24,host=169.254.169.2,dhcpstart=169.254.169.15' +
        `,guestfwd=tcp:169.254.169.254:80-cmd:/bin/busybox nc 127.0.0.1 ${o.metadataPort}`;
    }
    if (o.sshPort !== undefined) user += `,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22`;
    args.push('-netdev', user, '-device', 'virtio-net-pci,netdev=net0');
  } else if (net === 'unplugged') {
    args.push('-device', 'virtio-net-pci');
  }
  return args;
}

export async function startTestVm(o: TestVmOptions): Promise<TestVm> {
  const serialLog = join(o.workDir, 'serial.log');
  const qmpSock = join(o.workDir, 'qmp.sock');
  const child: ChildProcess = spawn('qemu-system-x86_64', qemuArgs(o), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const startedAt = Date.now();
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((res) =>
    child.on('exit', (code) => {
      exitCode = code;
      res(code);
    }),
  );
  child.on('error', () => {
    exitCode = -1;
  });

  const serial = (): string => (existsSync(serialLog) ? readFileSync(serialLog, 'latin1') : '');

  const vm: TestVm = {
    serialLog,
    startedAt,
    serial,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (pattern.test(serial())) return Date.now() - startedAt;
        if (exitCode !== undefined)
          throw new Error(
            `QEMU exited (${exitCode}) before ${pattern}: ${stderr.trim()}\n--- serial ---\n${serial().slice(-3000)}`,
          );
        if (Date.now() > deadline)
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${pattern}\n--- serial ---\n${serial().slice(-3000)}`,
          );
        await sleep(50);
      }
    },
    qmp: (execute, args) => qmpCommand(qmpSock, execute, args),
    async waitExit(timeoutMs) {
      // ref: false, so a pending limit never keeps the test process alive after QEMU is gone.
      return Promise.race([exited, sleep(timeoutMs, null, { ref: false })]);
    },
    async kill() {
      if (exitCode === undefined && child.pid !== undefined) child.kill('SIGKILL');
      await Promise.race([exited, sleep(5000, null, { ref: false })]);
    },
  };
  return vm;
}

/** One short QMP session: greeting, qmp_capabilities, the command; events are skipped. */
async function qmpCommand(
  sock: string,
  execute: string,
  args?: Record<string, unknown>,
): Promise<unknown> {
  for (let i = 0; i < 50 && !existsSync(sock); i++) await sleep(100);
  return new Promise((resolve, reject) => {
    const conn = createConnection(sock);
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`QMP ${execute}: no answer`));
    }, 10_000);
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on('data', (b) => {
      buf += b.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as {
          QMP?: unknown;
          return?: unknown;
          error?: { desc?: string };
          event?: string;
        };
        if (msg.event) continue;
        if (msg.error) {
          clearTimeout(timer);
          conn.destroy();
          reject(new Error(`QMP ${execute}: ${msg.error.desc ?? 'error'}`));
          return;
        }
        if (step === 0 && msg.QMP) {
          step = 1;
          conn.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
          continue;
        }
        if (step === 1 && 'return' in msg) {
          step = 2;
          conn.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
          continue;
        }
        if (step === 2 && 'return' in msg) {
          clearTimeout(timer);
          conn.end();
          resolve(msg.return);
          return;
        }
      }
    });
  });
}
