// The fake driver: the shared virt driver contract (in memory and with a state file), plus what
// makes it a usable simulation: resource accounting like a real host, failures injected on
// purpose, and guests that outlive the process in owner-only files replaced atomically.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeDriver } from './fake-driver.ts';
import { instanceSpec, runVirtDriverContract, testImage } from '../driver.contract.ts';
import { VirtError } from '../driver.ts';

runVirtDriverContract('fake', async () => {
  const driver = new FakeDriver();
  return {
    driver,
    image: testImage(),
    // What a killed hypervisor process looks like to the fake's watchers.
    crash: async (uuid) => driver.simulate(uuid, 'shutdown', 'the fake guest was killed'),
    close: async () => {},
  };
});

const scratch = mkdtempSync(join(tmpdir(), 'nubes-fake-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;

runVirtDriverContract('fake with a state dir', async () => {
  const driver = new FakeDriver({ stateDir: join(scratch, `contract-${++files}`) });
  return {
    driver,
    image: testImage(),
    crash: async (uuid) => driver.simulate(uuid, 'shutdown', 'the fake guest was killed'),
    close: async () => {},
  };
});

describe('fake driver', () => {
  it('accounts for the host like a real one: spawn fails, retryably, when resources run out', async () => {
    const d = new FakeDriver({ vcpus: 2, memoryMb: 512, diskGb: 10 });
    const flavor = {
      vcpus: 1,
      memoryMb: 256,
      rootGb: 1,
      ephemeralGb: 0,
      swapMb: 0,
      extraSpecs: {},
    };
    await d.spawn(instanceSpec(testImage(), { flavor }));
    await d.spawn(instanceSpec(testImage(), { flavor }));
    assert.deepEqual(d.used(), { vcpus: 2, memoryMb: 512, diskGb: 2 });
    await assert.rejects(
      d.spawn(instanceSpec(testImage(), { flavor })),
      (e: VirtError) => e.retryable && /not enough resources/.test(e.message),
    );
    assert.equal((await d.hostResources()).vcpus, 2, 'the totals, not what is free');
  });

  it('fails the spawns the options name, and those only', async () => {
    const d = new FakeDriver({ failSpawn: (_spec, n) => n === 2 });
    await d.spawn(instanceSpec(testImage()));
    await assert.rejects(d.spawn(instanceSpec(testImage())), /fake spawn failure \(spawn #2\)/);
    await d.spawn(instanceSpec(testImage()));
    assert.equal((await d.listInstances()).length, 2, 'a failed spawn leaves nothing behind');
  });

  it('writes what happened to the console log', async () => {
    const d = new FakeDriver();
    const spec = instanceSpec(testImage(), {
      metadata: {
        publicKeys: { a: 'k' },
        userData: '#!/bin/sh\necho hi',
        meta: {},
        configDrive: false,
      },
    });
    await d.spawn(spec);
    await d.reboot(spec.uuid, 'hard');
    const log = await d.consoleOutput(spec.uuid, 10_000);
    assert.match(
      log,
      /fake: spawned vm1 from image image-1\nfake: ssh keys installed 1\nfake: user-data received\nfake: hard reboot\n/,
    );
  });

  it('keeps its guests in its state dir: a new driver on it finds them as they were', async () => {
    const dir = join(scratch, 'restart', 'fake', 'host-1');
    const before = new FakeDriver({ stateDir: dir });
    const a = instanceSpec(testImage());
    const b = instanceSpec(testImage());
    const gone = instanceSpec(testImage());
    for (const s of [a, b, gone]) await before.spawn(s);
    await before.powerOff(b.uuid);
    const volume = {
      volumeId: 'vol-1',
      path: '/dev/null',
      format: 'raw',
      device: null,
      readOnly: false,
    } as const;
    await before.attachVolume(a.uuid, volume);
    await before.destroy(gone.uuid);

    const after = new FakeDriver({ stateDir: dir });
    const byUuid = (x: { uuid: string }, y: { uuid: string }) => x.uuid.localeCompare(y.uuid);
    assert.deepEqual(
      (await after.listInstances()).sort(byUuid),
      [
        { uuid: a.uuid, powerState: 'running' as const },
        { uuid: b.uuid, powerState: 'shutdown' as const },
      ].sort(byUuid),
    );
    assert.deepEqual(after.used(), before.used(), 'the host is as full as it was');
    assert.match(await after.consoleOutput(a.uuid, 10_000), /volume vol-1 attached as vdb/);
    await after.powerOn(b.uuid);
    await assert.rejects(after.attachVolume(a.uuid, volume), /already attached/);
    // One owner-only file per guest, in an owner-only directory, and no temporary file left.
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(dir).sort(), [`${a.uuid}.json`, `${b.uuid}.json`].sort());
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  });

  it('replaces a guest file others could read, and a temporary file a crash left, with an owner-only one', async () => {
    const dir = join(scratch, 'loose');
    const d = new FakeDriver({ stateDir: dir });
    const spec = instanceSpec(testImage());
    await d.spawn(spec);
    const file = join(dir, `${spec.uuid}.json`);
    chmodSync(file, 0o644);
    writeFileSync(`${file}.${process.pid}.tmp`, 'left by a crash', { mode: 0o644 });
    assert.equal((await new FakeDriver({ stateDir: dir }).listInstances()).length, 1);
    await d.powerOff(spec.uuid);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), [`${spec.uuid}.json`]);
  });

  it('refuses a damaged guest file, naming it and what to do', () => {
    const dir = join(scratch, 'damaged');
    mkdirSync(dir);
    const file = join(dir, 'x.json');
    writeFileSync(file, '{"version":1,"uuid":');
    assert.throws(
      () => new FakeDriver({ stateDir: dir }),
      (e: Error) => e.message.includes(file) && /move it away/.test(e.message),
    );
  });
});
