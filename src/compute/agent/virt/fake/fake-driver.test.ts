// The fake driver: the shared virt driver contract, plus what makes it a usable simulation —
// resource accounting like a real host and failures injected on purpose.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
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
});
