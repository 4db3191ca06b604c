// Snapshots: the root disk (its overlay with the image flattened in) copied to a qcow2 file while
// the guest is paused, then handed to the caller's sink and removed.
import { rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { qemuImgConvert } from '../../../../host/qemu-img.ts';
import { qemuPid } from '../../../../host/qemu/process.ts';
import type { DriverContext } from './driver-context.ts';
import { VirtError } from '../driver.ts';

export async function snapshot(
  ctx: DriverContext,
  uuid: string,
  sink: (data: Readable, diskFormat: string) => Promise<void>,
): Promise<void> {
  const def = await ctx.definition(
    uuid,
    (await ctx.has(uuid, 'vm.normal.json')) ? 'vm.normal.json' : 'vm.json',
  );
  const root = def.disks.find((d) => d.id === 'root');
  if (!root) throw new VirtError(`instance ${uuid} has no root disk to snapshot`);
  const out = join(def.dir, `snapshot-${Date.now()}.qcow2`);
  const running =
    qemuPid(def.dir) !== null && (await (await ctx.qmp(uuid)).qmp.status()) === 'running';
  try {
    // The guest is paused only for the copy of its overlay (with the image flattened in), not the upload.
    if (running) await (await ctx.qmp(uuid)).qmp.stop();
    try {
      await qemuImgConvert(root.path, root.format, out, 'qcow2', undefined, { forceShare: true });
    } finally {
      if (running) await (await ctx.qmp(uuid)).qmp.cont();
    }
    await sink(createReadStream(out, { highWaterMark: 1 << 20 }), 'qcow2');
  } finally {
    await rm(out, { force: true });
  }
}
