// The host image cache with real files and qemu-img: one fetch for concurrent boots, the checksum
// checked, a qcow2 that points at a host file refused, and nothing left behind by a refusal.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createImageCache } from './image-cache.ts';
import { qemuImgCreate } from '../../../../host/qemu-img.ts';
import { haveCommand } from '../../../../host/exec.ts';
import type { ImageSpec } from '../driver.ts';

const spec = (
  id: string,
  bytes: Buffer,
  checksum: string | null,
  counter: { n: number },
  diskFormat = 'raw',
): ImageSpec => ({
  id,
  diskFormat,
  checksum,
  properties: {},
  open: async () => {
    counter.n++;
    return Readable.from([bytes]);
  },
});

describe(
  'host image cache',
  {
    skip: (await haveCommand('qemu-img'))
      ? false
      : 'qemu-img is not installed (bin/nubes installs qemu-utils)',
  },
  () => {
    it('fetches once for concurrent boots and verifies the checksum', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nubes-cache-'));
      try {
        const cache = createImageCache(dir);
        const bytes = Buffer.alloc(1024 * 1024, 7);
        const counter = { n: 0 };
        const id = crypto.randomUUID();
        const image = spec(id, bytes, createHash('md5').update(bytes).digest('hex'), counter);
        const [a, b] = await Promise.all([cache.ensure(image), cache.ensure(image)]);
        assert.equal(counter.n, 1, 'one fetch for both');
        assert.equal(a.path, b.path);
        assert.equal(a.virtualSize, bytes.length);
        assert.ok((await readFile(a.path)).equals(bytes));
        await cache.ensure(image);
        assert.equal(counter.n, 1, 'the cache answers afterwards');
        const bad = spec(crypto.randomUUID(), bytes, '0'.repeat(32), counter);
        await assert.rejects(cache.ensure(bad), /checksum/);
        await assert.rejects(
          cache.ensure(spec('../etc/passwd', bytes, null, counter)),
          /not a UUID/,
        );
        assert.deepEqual(readdirSync(dir), [`${id}.raw`], 'nothing left of the refused ones');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a qcow2 with a backing file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nubes-cache-'));
      try {
        const evil = join(dir, 'evil.qcow2');
        await qemuImgCreate(evil, 'qcow2', 1024 * 1024, {
          backing: '/etc/hostname',
          backingFormat: 'raw',
        });
        const cache = createImageCache(join(dir, 'cache'));
        await assert.rejects(
          cache.ensure(spec(crypto.randomUUID(), await readFile(evil), null, { n: 0 }, 'qcow2')),
          /refers to other files/,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('two hosts sharing the cache directory fetch the same image at once without spoiling it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nubes-cache-shared-'));
      try {
        const bytes = Buffer.alloc(4 * 1024 * 1024);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
        const id = crypto.randomUUID();
        const checksum = createHash('md5').update(bytes).digest('hex');
        // Each stream in small pieces, so the two writes interleave.
        const slow = (): ImageSpec => ({
          id,
          diskFormat: 'raw',
          checksum,
          properties: {},
          open: async () =>
            Readable.from(
              (function* () {
                for (let o = 0; o < bytes.length; o += 65536) yield bytes.subarray(o, o + 65536);
              })(),
            ),
        });
        const [a, b] = await Promise.all([
          createImageCache(dir).ensure(slow()),
          createImageCache(dir).ensure(slow()),
        ]);
        assert.equal(a.path, b.path);
        assert.ok((await readFile(a.path)).equals(bytes), 'the cached image is the image');
        assert.deepEqual(
          readdirSync(dir).filter((f) => f.endsWith('.part')),
          [],
          'no partial files left',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
