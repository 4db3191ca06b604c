// An instance's power: what state it is in (from its QEMU's run state, or its files when no QEMU
// runs), power off and on, soft and hard reboot, pause and unpause.
import { rm } from 'node:fs/promises';
import { qemuPid } from '../../../../host/qemu/process.ts';
import type { RunState } from '../../../../host/qemu/qmp/commands.ts';
import type { DriverContext } from './driver-context.ts';
import { resume } from './suspend.ts';
import { InstanceNotOnHost, VirtError, type PowerState } from '../driver.ts';

function powerOf(s: RunState): PowerState {
  switch (s) {
    case 'running':
      return 'running';
    case 'paused':
    case 'prelaunch':
    case 'inmigrate':
    case 'postmigrate':
    case 'finish-migrate':
    case 'restore-vm':
    case 'save-vm':
    case 'debug':
    case 'colo':
      return 'paused';
    case 'suspended':
      return 'suspended';
    case 'guest-panicked':
    case 'internal-error':
    case 'io-error':
    case 'watchdog':
      return 'crashed';
    case 'shutdown':
      return 'shutdown';
  }
}

export async function powerState(ctx: DriverContext, uuid: string): Promise<PowerState> {
  if (!(await ctx.has(uuid, 'vm.json'))) throw new InstanceNotOnHost(uuid);
  if (qemuPid(ctx.dir(uuid)) === null)
    return (await ctx.has(uuid, 'memory.state')) ? 'suspended' : 'shutdown';
  try {
    return powerOf(await (await ctx.qmp(uuid)).qmp.status());
  } catch {
    return qemuPid(ctx.dir(uuid)) === null ? 'shutdown' : 'nostate';
  }
}

export async function powerOff(
  ctx: DriverContext,
  uuid: string,
  timeoutSeconds: number,
): Promise<void> {
  await ctx.definition(uuid);
  await ctx.stop(uuid, timeoutSeconds);
}

export async function powerOn(ctx: DriverContext, uuid: string): Promise<void> {
  const def = await ctx.definition(uuid);
  if (qemuPid(def.dir) !== null) return;
  if (await ctx.has(uuid, 'memory.state')) {
    await resume(ctx, uuid);
    return;
  }
  await ctx.start(def);
}

export async function reboot(
  ctx: DriverContext,
  uuid: string,
  kind: 'soft' | 'hard',
): Promise<void> {
  const def = await ctx.definition(uuid);
  if (kind === 'hard') {
    // A hard reboot of a suspended guest boots it afresh: its saved memory goes.
    await rm(ctx.file(uuid, 'memory.state'), { force: true });
    if (qemuPid(def.dir) === null) {
      await ctx.start(def);
      return;
    }
    const { qmp } = await ctx.qmp(uuid);
    if ((await qmp.status()) !== 'running') await qmp.cont();
    await qmp.reset();
    return;
  }
  if (qemuPid(def.dir) === null)
    throw new VirtError(`cannot soft-reboot instance ${uuid}: it is shut down`);
  // Soft: a clean shutdown (hard stop after the timeout), then a fresh start, as Nova's libvirt driver.
  await ctx.stop(uuid, ctx.shutdownSeconds());
  await ctx.start(def);
}

export async function pause(ctx: DriverContext, uuid: string): Promise<void> {
  await ctx.definition(uuid);
  const { qmp } = await ctx.qmp(uuid);
  if ((await qmp.status()) !== 'running')
    throw new VirtError(`cannot pause instance ${uuid}: it is not running`);
  await qmp.stop();
}

export async function unpause(ctx: DriverContext, uuid: string): Promise<void> {
  await ctx.definition(uuid);
  const { qmp } = await ctx.qmp(uuid);
  if ((await qmp.status()) !== 'paused')
    throw new VirtError(`cannot unpause instance ${uuid}: it is not paused`);
  await qmp.cont();
}
