// The flavors a new cloud starts with: Nova's classic public m1.* set, plus m1.nano sized for the
// nubes-tiny guest image. Created once per deployment; an admin may delete or change them after.
import type { DbHandle } from '../../platform/db/database.ts';
import * as flavors from '../store/flavors.ts';
import type { NewFlavor } from '../model.ts';

const flavor = (
  id: string,
  name: string,
  vcpus: number,
  ramMb: number,
  diskGb: number,
): NewFlavor => ({
  id,
  name,
  vcpus,
  ramMb,
  diskGb,
  ephemeralGb: 0,
  swapMb: 0,
  rxtxFactor: 1,
  isPublic: true,
  description: null,
});

export const DEFAULT_FLAVORS: readonly NewFlavor[] = [
  flavor('1', 'm1.tiny', 1, 512, 1),
  flavor('2', 'm1.small', 1, 2048, 20),
  flavor('3', 'm1.medium', 2, 4096, 40),
  flavor('4', 'm1.large', 4, 8192, 80),
  flavor('5', 'm1.xlarge', 8, 16384, 160),
  flavor('42', 'm1.nano', 1, 128, 1),
];

/** Creates the default flavors on the first start of a deployment; true if it did. */
export function seedDefaultFlavors(db: DbHandle, now = Date.now()): Promise<boolean> {
  return flavors.once(db, 'compute.default_flavors', async (trx) => {
    for (const f of DEFAULT_FLAVORS) {
      // A flavor an operator made with the same name or id first is left alone.
      if (await flavors.flavorExists(trx, f.id, f.name)) continue;
      await flavors.insertFlavor(trx, f, now);
    }
  });
}
