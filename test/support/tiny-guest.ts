// What the e2e files that boot nubes-tiny share: the user data every boot runs and how to read its
// console (boot count, ticks), why a file skips, and the VNC console's websocket and RFB banner.
import { existsSync } from 'node:fs';
import { WebSocket } from 'ws';
import { haveOpenstackCli } from './openstack-cli.ts';
import { chooseAccelerator } from '../../src/host/qemu/accel.ts';

export const accel = chooseAccelerator().accel;
/** How long a guest may take to boot or act: TCG on a busy 2-core machine is slow. Never a timing assertion. */
export const BOOT_WAIT_MS = accel === 'kvm' ? 90_000 : 240_000;

export const skipQemu = !haveOpenstackCli()
  ? 'python3-openstackclient is not installed (scripts/test.sh installs it)'
  : !existsSync('/usr/bin/qemu-system-x86_64')
    ? 'qemu-system-x86_64 is not installed (bin/nubes installs qemu-system-x86)'
    : false;
export const skipNoVnc = !existsSync('/usr/share/novnc/vnc_lite.html')
  ? 'noVNC is not installed (apt install novnc; bin/nubes installs it)'
  : false;
const pgUrl = process.env['NUBES_TEST_DATABASE_URL'];
const amqpUrl = process.env['NUBES_TEST_AMQP_URL'];
/** The PostgreSQL and RabbitMQ a scaled-out cloud needs, or why it is skipped. */
export const scaleOut =
  pgUrl && amqpUrl
    ? ({ pgUrl, amqpUrl, skip: false } as const)
    : ({
        skip: 'needs NUBES_TEST_DATABASE_URL and NUBES_TEST_AMQP_URL (scripts/test.sh starts both)',
      } as const);

export const CHROMIUM = '/usr/bin/chromium';

// A test ed25519 key (no private half anywhere): the guest must list it as installed.
export const PUBLIC_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ8ll0DJ2dEyVFc7Qf9jTG0pTgK9mQ8fVq3r1nbWm1B e2e@nubes';

// Runs on every boot: the guest's CPUs, its note on /data (written on the first boot of a disk),
// and a counter that shows the guest's memory lived on (pause, suspend) rather than booted again.
export const USER_DATA = `#!/bin/sh
echo "NUBES-E2E cpus=$(grep -c ^processor /proc/cpuinfo)"
[ -f /data/note ] || { echo "written on $(hostname)" > /data/note; sync; }
echo "NUBES-E2E note: $(cat /data/note)"
( n=0; while true; do n=$((n+1)); echo "NUBES-E2E tick $n"; sleep 1; done ) &
`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastNumber = (text: string, re: RegExp) =>
  Math.max(0, ...[...text.matchAll(re)].map((m) => Number(m[1])));
export const bootCountOf = (text: string) => lastNumber(text, /^nubes-tiny: boot-count (\d+)/gm);
// Not anchored: the console shell's prompt may start the line a tick is printed on.
export const tick = (text: string) => lastNumber(text, /NUBES-E2E tick (\d+)/g);

/** The websocket URL noVNC's vnc_lite.html builds from the console URL (host, port, then `path`). */
export function websocketOf(consoleUrl: string): string {
  const u = new URL(consoleUrl);
  return `ws://${u.host}/${u.searchParams.get('path')!}`;
}

/** Connects and resolves with the first bytes the VNC server sends, or rejects with the HTTP status. */
export function banner(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no banner in 20 s'));
    }, 20_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(Buffer.from(data as Buffer).toString('latin1'));
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
