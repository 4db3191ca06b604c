// Runs every `nubes doctor` probe, independent ones at once, each under its own time limit, and
// returns the checks in a fixed order. Never throws: a probe that fails or hangs is reported as 'no'.
import { guard, type Check } from './check.ts';
import { NET_CHECKS, probeDnsmasq, probeNetworking } from './probes-net.ts';
import { probeCgroups, probeDataDir, probeDataDirMode, probeNode } from './probes-system.ts';
import {
  probeAccelerator,
  probeQemu,
  probeQemuImg,
  probeTinyImageInputs,
  probeGenisoimage,
} from './probes-virt.ts';

export interface DoctorOptions {
  readonly dataDir: string;
  /** The configured virt driver: with 'qemu', QEMU, qemu-img and genisoimage become essential. */
  readonly virtDriver: 'fake' | 'qemu';
  /** Milliseconds each probe may take (the network probe gets twice this). Default 15 s. */
  readonly limitMs?: number;
}

export async function runDoctor(opts: DoctorOptions): Promise<Check[]> {
  const limit = opts.limitMs ?? 15_000;
  const qemu = opts.virtDriver === 'qemu';
  const one = (name: string, run: () => Promise<Check> | Check, essential = false) =>
    guard([name], limit, async () => [await run()], { essential });
  const groups = await Promise.all([
    one('node', () => probeNode(), true),
    one('data dir', () => probeDataDir(opts.dataDir), true),
    one('data dir mode', () => probeDataDirMode(opts.dataDir)),
    one('accelerator', () => probeAccelerator()),
    one('qemu', () => probeQemu(qemu), qemu),
    one('qemu-img', () => probeQemuImg(qemu), qemu),
    one('genisoimage', () => probeGenisoimage(qemu), qemu),
    // apt takes seconds to answer on a loaded host.
    guard(['tiny image'], 2 * limit, async () => [await probeTinyImageInputs()]),
    guard(NET_CHECKS, 2 * limit, () => probeNetworking()),
    one('dnsmasq', () => probeDnsmasq()),
    one('cgroups', () => probeCgroups()),
  ]);
  return groups.flat();
}
