// qemu-img convert under its bounds: the output size, the CPU time, a caller's abort; and what a
// failure says (no host path).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuImgConvert, qemuImgCreate, type ConvertLimits } from './qemu-img.ts';
import { CommandAborted } from './exec.ts';
import { isNubesError } from '../platform/errors.ts';

const LIMITS: ConvertLimits = {
  memoryBytes: 2048 * 1024 * 1024,
  cpuSeconds: 60,
  outputBytes: 1024 ** 3,
  timeoutMs: 60_000,
};

describe('qemuImgConvert with limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubes-qemu-img-'));
  const huge = join(dir, 'huge.vmdk');
  before(() => qemuImgCreate(huge, 'vmdk', 1024 ** 5));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails past the output bound with a message that names no path', async () => {
    const src = join(dir, 'data.raw');
    writeFileSync(src, randomBytes(1024 * 1024));
    const out = join(dir, 'small.qcow2');
    await assert.rejects(
      qemuImgConvert(src, 'raw', out, 'qcow2', undefined, {
        limits: { ...LIMITS, outputBytes: 256 * 1024 },
      }),
      (e: unknown) => {
        assert.ok(isNubesError(e));
        assert.equal(e.code, 'image_conversion_too_large');
        assert.doesNotMatch(e.message, new RegExp(dir));
        return true;
      },
    );
  });

  it('stops a conversion that spins past its CPU time', async () => {
    const started = Date.now();
    await assert.rejects(
      qemuImgConvert(huge, 'vmdk', join(dir, 'spin.qcow2'), 'qcow2', undefined, {
        limits: { ...LIMITS, cpuSeconds: 1, outputBytes: 1024 ** 4 },
      }),
      (e: unknown) => isNubesError(e) && e.code === 'image_conversion_limit',
    );
    assert.ok(Date.now() - started < 20_000);
  });

  it('kills the conversion when the caller aborts', async () => {
    const ac = new AbortController();
    const out = join(dir, 'aborted.qcow2');
    const running = qemuImgConvert(huge, 'vmdk', out, 'qcow2', undefined, {
      limits: { ...LIMITS, outputBytes: 1024 ** 4 },
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(running, (e: unknown) => e instanceof CommandAborted);
    rmSync(out, { force: true });
    assert.equal(existsSync(out), false);
  });
});
