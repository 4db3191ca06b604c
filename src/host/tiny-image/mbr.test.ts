// Unit tests of the MBR writer: field offsets, CHS values and the boot signature.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildMbr } from './mbr.ts';

test('boot code, disk signature, two partitions and 0x55AA land where the BIOS and Linux look', () => {
  const code = Buffer.alloc(440, 0xfa);
  const mbr = buildMbr(
    code,
    [
      { start: 2048, sectors: 65536, type: 0x0e, bootable: true },
      { start: 67584, sectors: 194560, type: 0x83 },
    ],
    0x4e554245,
  );
  assert.equal(mbr.length, 512);
  assert.deepEqual(mbr.subarray(0, 440), code);
  assert.equal(mbr.readUInt32LE(440), 0x4e554245);
  assert.equal(mbr[446], 0x80);
  assert.equal(mbr[446 + 4], 0x0e);
  assert.equal(mbr.readUInt32LE(446 + 8), 2048);
  assert.equal(mbr.readUInt32LE(446 + 12), 65536);
  // LBA 2048 with 255 heads x 63 sectors: cylinder 0, head 32, sector 33.
  assert.deepEqual([...mbr.subarray(447, 450)], [32, 33, 0]);
  assert.equal(mbr[462], 0x00);
  assert.equal(mbr[462 + 4], 0x83);
  assert.equal(mbr.readUInt32LE(462 + 8), 67584);
  assert.equal(mbr.readUInt32LE(462 + 12), 194560);
  assert.deepEqual([...mbr.subarray(478, 510)], new Array(32).fill(0));
  assert.deepEqual([...mbr.subarray(510)], [0x55, 0xaa]);
});

test('CHS saturates past cylinder 1023 and oversize input is refused', () => {
  const mbr = buildMbr(Buffer.alloc(0), [{ start: 20_000_000, sectors: 100, type: 0x83 }], 1);
  assert.deepEqual([...mbr.subarray(447, 450)], [0xfe, 0xff, 0xff]);
  assert.throws(() => buildMbr(Buffer.alloc(441), [], 0), /more than 440/);
  assert.throws(
    () => buildMbr(Buffer.alloc(0), new Array(5).fill({ start: 1, sectors: 1, type: 0x83 }), 0),
    /four/,
  );
});
