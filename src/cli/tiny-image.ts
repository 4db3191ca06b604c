// The nubes-tiny guest image from the command line: `nubes image build-tiny` builds it (cached),
// and `nubes up` registers it as public images (disk, kernel, ramdisk) on first start.
import { join } from 'node:path';
import type { Config } from './config.ts';
import type { Cloud } from './cloud.ts';
import { buildTinyImage, type TinyImage } from '../host/tiny-image/build-tiny-image.ts';

export const TINY_NAME = 'nubes-tiny';

function tinyCache(config: Config): string {
  return join(config.cacheDir, 'tiny-image');
}

/** `nubes image build-tiny`: builds (or finds in the cache) the image and says where it is. */
export async function runBuildTiny(config: Config): Promise<number> {
  try {
    const t = performance.now();
    const img = await buildTinyImage({
      cacheDir: tinyCache(config),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      [
        `nubes-tiny ${img.version.slice(0, 12)} (${Math.round(performance.now() - t)} ms)`,
        `  disk (qcow2, BIOS-bootable): ${img.disk}`,
        `  kernel (aki):                ${img.kernel}`,
        `  ramdisk (ari):               ${img.ramdisk}`,
        `  kernel command line:         ${img.kernelCmdline}`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (e) {
    process.stderr.write(`nubes: cannot build the tiny image: ${(e as Error).message}\n`);
    return 1;
  }
}

/**
 * Registers nubes-tiny (kernel, ramdisk, then the disk naming them by kernel_id/ramdisk_id) as
 * public images of the admin project, unless this build is registered already.
 */
export async function registerTinyImage(
  cloud: Cloud,
  config: Config,
  log: (line: string) => void,
): Promise<TinyImage> {
  const img = await buildTinyImage({ cacheDir: tinyCache(config), log });
  const common = {
    visibility: 'public',
    owner: cloud.bootstrap.adminProjectId,
    build: img.version,
  } as const;
  const kernel = await cloud.image.system.ensure({
    ...common,
    name: `${TINY_NAME}-kernel`,
    file: img.kernel,
    diskFormat: 'aki',
    containerFormat: 'aki',
  });
  const ramdisk = await cloud.image.system.ensure({
    ...common,
    name: `${TINY_NAME}-ramdisk`,
    file: img.ramdisk,
    diskFormat: 'ari',
    containerFormat: 'ari',
  });
  await cloud.image.system.ensure({
    ...common,
    name: TINY_NAME,
    file: img.disk,
    diskFormat: 'qcow2',
    containerFormat: 'bare',
    minRam: 64,
    properties: {
      kernel_id: kernel.id,
      ramdisk_id: ramdisk.id,
      os_command_line: img.kernelCmdline,
      os_distro: 'nubes-tiny',
      hw_qemu_guest_agent: 'no',
    },
  });
  return img;
}
