// Unit tests of modules.dep parsing and insmod ordering (pure; the real kernel's list is exercised by the e2e test).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  moduleLoadOrder,
  moduleName,
  parseModulesBuiltin,
  parseModulesDep,
} from './kernel-modules.ts';

const DEP = [
  'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko:',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
  'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio_ring.ko:',
  'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
  'kernel/net/core/failover.ko:',
  'kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz',
  'kernel/lib/crc16.ko.xz:',
  'kernel/fs/mbcache.ko.xz:',
  'kernel/fs/jbd2/jbd2.ko.xz:',
  'kernel/crypto/crc32c-generic.ko:',
  '',
].join('\n');

test('module names drop the directory and compression suffix and use underscores', () => {
  assert.equal(moduleName('kernel/fs/ext4/ext4.ko.xz'), 'ext4');
  assert.equal(moduleName('kernel/crypto/crc32c-generic.ko'), 'crc32c_generic');
  assert.equal(moduleName('kernel/lib/crc16.ko.zst'), 'crc16');
});

test('every module comes after all of its dependencies, each once, in the wanted order otherwise', () => {
  const order = moduleLoadOrder(
    ['virtio_pci', 'virtio_net', 'crc32c_generic', 'ext4'],
    parseModulesDep(DEP),
  ).map((m) => m.name);
  assert.deepEqual(order, [
    'virtio_pci_legacy_dev',
    'virtio_pci_modern_dev',
    'virtio_ring',
    'virtio',
    'virtio_pci',
    'failover',
    'net_failover',
    'virtio_net',
    'crc32c_generic',
    'crc16',
    'mbcache',
    'jbd2',
    'ext4',
  ]);
  const pos = new Map(order.map((n, i) => [n, i]));
  for (const m of moduleLoadOrder(['virtio_net', 'ext4'], parseModulesDep(DEP))) {
    for (const d of m.deps) assert.ok(pos.get(d)! < pos.get(m.name)!, `${d} before ${m.name}`);
  }
});

test('compressed module paths are kept as modules.dep writes them', () => {
  const [first] = moduleLoadOrder(['crc16'], parseModulesDep(DEP));
  assert.equal(first?.path, 'kernel/lib/crc16.ko.xz');
});

test('built-in modules are skipped and unknown ones are an error naming who needs them', () => {
  const dep = parseModulesDep('kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko\n');
  const builtin = parseModulesBuiltin('kernel/drivers/cdrom/cdrom.ko\nkernel/fs/vfat/vfat.ko\n');
  assert.deepEqual(
    moduleLoadOrder(['isofs', 'vfat'], dep, builtin).map((m) => m.name),
    ['isofs'],
  );
  assert.throws(
    () => moduleLoadOrder(['isofs'], dep),
    /cdrom is neither in modules.dep nor built in \(needed by isofs\)/,
  );
  assert.throws(() => moduleLoadOrder(['nosuch'], dep), /nosuch is neither/);
});

test('a dependency cycle is reported instead of looping', () => {
  const dep = parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n');
  assert.throws(() => moduleLoadOrder(['a'], dep), /cycle: a -> b -> a/);
});
