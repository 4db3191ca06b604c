// The image storage backend contract (driver.ts), one suite for every backend: run on `file` from
// backend.test.ts, and on an object-store backend when one exists. A backend without a capability
// skips those cases, saying why.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ImageBackend } from './driver.ts';

export interface BackendSubject {
  readonly backend: ImageBackend;
  /** The names of everything the backend keeps (objects and temporaries alike), sorted. */
  contents(): Promise<readonly string[]>;
  close(): Promise<void>;
}

/** A source that yields `bytes` in chunks of `chunk`. */
const sourceOf = (bytes: Buffer, chunk = 64 * 1024): Readable =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    })(),
  );

/** A source that yields `before` bytes, then fails the way a dropped client connection does. */
function failingSource(before: number, why = 'the client went away'): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent && before > 0) {
        sent = true;
        this.push(randomBytes(before));
      } else setImmediate(() => this.destroy(new Error(why)));
    },
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export function runImageBackendContract(
  name: string,
  make: () => Promise<BackendSubject>,
  opts: { skip?: string | false } = {},
): void {
  describe(`image backend contract: ${name}`, { skip: opts.skip ?? false }, () => {
    const withBackend = (fn: (s: BackendSubject) => Promise<void>) => async () => {
      const s = await make();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };

    it(
      'writes an object and reads back exactly its bytes, with its size',
      withBackend(async ({ backend }) => {
        const bytes = randomBytes(3 * 1024 * 1024 + 17);
        const stored = await backend.write(sourceOf(bytes));
        assert.equal(stored.size, bytes.length);
        assert.equal(await backend.size(stored.key), bytes.length);
        assert.ok((await readAll(await backend.read(stored.key))).equals(bytes));
      }),
    );

    it(
      'stores an empty object',
      withBackend(async ({ backend }) => {
        const stored = await backend.write(Readable.from([]));
        assert.equal(stored.size, 0);
        assert.equal(await backend.size(stored.key), 0);
        assert.equal((await readAll(await backend.read(stored.key))).length, 0);
      }),
    );

    it(
      'reads an inclusive byte range: the start, the middle, the last byte',
      withBackend(async ({ backend }) => {
        const bytes = randomBytes(200_000);
        const { key } = await backend.write(sourceOf(bytes));
        for (const [start, end] of [
          [0, 99],
          [65_530, 65_545],
          [bytes.length - 1, bytes.length - 1],
          [0, bytes.length - 1],
        ] as const) {
          const got = await readAll(await backend.read(key, { start, end }));
          assert.ok(got.equals(bytes.subarray(start, end + 1)), `range ${start}-${end}`);
        }
      }),
    );

    it(
      'gives each write its own key, also when writes run at once',
      withBackend(async ({ backend }) => {
        const a = randomBytes(500_000);
        const b = randomBytes(300_000);
        const [sa, sb] = await Promise.all([
          backend.write(sourceOf(a, 10_000)),
          backend.write(sourceOf(b, 7_000)),
        ]);
        assert.notEqual(sa.key, sb.key);
        assert.ok((await readAll(await backend.read(sa.key))).equals(a));
        assert.ok((await readAll(await backend.read(sb.key))).equals(b));
      }),
    );

    it(
      'deletes an object: its size is undefined and a read is a 404; deleting again succeeds',
      withBackend(async ({ backend, contents }) => {
        const before = await contents();
        const { key } = await backend.write(sourceOf(randomBytes(1000)));
        await backend.delete(key);
        assert.equal(await backend.size(key), undefined);
        await assert.rejects(backend.read(key), { status: 404, code: 'image_data_not_found' });
        await backend.delete(key);
        assert.deepEqual(await contents(), before);
      }),
    );

    it(
      'answers a read of a key it never stored with a 404 and no path outside the store',
      withBackend(async ({ backend }) => {
        for (const key of ['0'.repeat(32), '../../etc/passwd', ''])
          await assert.rejects(backend.read(key), { status: 404, code: 'image_data_not_found' });
      }),
    );

    it(
      'leaves nothing behind when the source fails midway, and rejects with its error',
      withBackend(async ({ backend, contents }) => {
        const kept = await backend.write(sourceOf(randomBytes(1000)));
        const before = await contents();
        await assert.rejects(backend.write(failingSource(256 * 1024)), /the client went away/);
        await assert.rejects(backend.write(failingSource(0, 'no data at all')), /no data at all/);
        assert.deepEqual(await contents(), before);
        assert.equal(await backend.size(kept.key), 1000);
      }),
    );

    it('gives a local path holding the bytes', async (t) => {
      const s = await make();
      try {
        if (!s.backend.capabilities.localFiles) {
          t.skip('the backend keeps no local files (capabilities.localFiles is false)');
          return;
        }
        const bytes = randomBytes(4096);
        const { key } = await s.backend.write(sourceOf(bytes));
        assert.ok(readFileSync(await s.backend.localPath(key)).equals(bytes));
      } finally {
        await s.close();
      }
    });

    it(
      'hands out a fresh scratch path each time, and removes it',
      withBackend(async ({ backend }) => {
        const a = backend.scratch();
        const b = backend.scratch();
        assert.notEqual(a.path, b.path);
        assert.equal(existsSync(a.path), false);
        writeFileSync(a.path, 'x');
        await a.remove();
        assert.equal(existsSync(a.path), false);
        await b.remove();
      }),
    );
  });
}
