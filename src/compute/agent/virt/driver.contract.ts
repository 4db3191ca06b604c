// The virt driver contract (driver.ts), one suite for every driver: run on `fake` always and on
// `qemu` where QEMU can boot (issue 6). A driver that lacks a capability skips those cases, and
// every skip says why.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InstanceNotOnHost,
  type DriverCapabilities,
  type ImageSpec,
  type InstanceSpec,
  type LifecycleEvent,
  type VirtDriver,
} from './driver.ts';

export interface ContractSubject {
  readonly driver: VirtDriver;
  /** The image every case boots. */
  readonly image: ImageSpec;
  /**
   * Makes the instance's hypervisor process die behind the driver's back, as `kill -9` on its host
   * would (for the watch case); a subject that cannot skips that case.
   */
  readonly crash?: (uuid: string) => Promise<void>;
  close(): Promise<void>;
}

/** A skip reason when the driver lacks `capability`, else false (for `{ skip }` and `t.skip`). */
const lacks = (driver: VirtDriver, capability: keyof DriverCapabilities): string | false =>
  driver.capabilities[capability]
    ? false
    : `the driver does not support it (${capability} is false)`;

/** Skips the test, saying why, when `reason` is one; true when it did. */
function skipped(t: TestContext, reason: string | false): boolean {
  if (reason === false) return false;
  t.skip(reason);
  return true;
}

/** Resolves with the first event `pred` accepts, or rejects after `ms`. */
function nextEvent(
  driver: VirtDriver,
  pred: (e: LifecycleEvent) => boolean,
  ms: number,
): Promise<LifecycleEvent> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      off();
      fail(new Error(`no lifecycle event within ${ms / 1000} s`));
    }, ms);
    const off = driver.watch((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      ok(e);
    });
  });
}

export function testImage(id = 'image-1', bytes: Buffer = Buffer.from('image bytes')): ImageSpec {
  return {
    id,
    diskFormat: 'raw',
    checksum: null,
    properties: {},
    open: async () => Readable.from([bytes]),
  };
}

export function instanceSpec(image: ImageSpec, over: Partial<InstanceSpec> = {}): InstanceSpec {
  const uuid = over.uuid ?? crypto.randomUUID();
  return {
    uuid,
    name: `instance-${uuid.slice(0, 8)}`,
    hostname: 'vm1',
    image,
    flavor: { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
    nics: [],
    metadata: {
      publicKeys: { k: 'ssh-ed25519 AAAA test' },
      userData: null,
      meta: {},
      configDrive: false,
    },
    ...over,
  };
}

export function runVirtDriverContract(
  name: string,
  make: () => Promise<ContractSubject>,
  opts: { skip?: string | false } = {},
): void {
  describe(`virt driver contract: ${name}`, { skip: opts.skip ?? false }, () => {
    const withDriver =
      (fn: (s: ContractSubject, t: TestContext) => Promise<void>) => async (t: TestContext) => {
        const s = await make();
        try {
          await fn(s, t);
        } finally {
          await s.close();
        }
      };
    /** Two hosts, for the migration cases. */
    const withTwo =
      (fn: (a: ContractSubject, b: ContractSubject, t: TestContext) => Promise<void>) =>
      async (t: TestContext) => {
        const [a, b] = [await make(), await make()];
        try {
          await fn(a, b, t);
        } finally {
          await a.close();
          await b.close();
        }
      };
    const listed = async (driver: VirtDriver, uuid: string) =>
      (await driver.listInstances()).some((i) => i.uuid === uuid);

    it(
      'spawns a running instance that the host lists, and refuses the same uuid twice',
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        assert.equal(await driver.powerState(spec.uuid), 'running');
        assert.deepEqual(
          (await driver.listInstances()).find((i) => i.uuid === spec.uuid),
          { uuid: spec.uuid, powerState: 'running' },
        );
        await assert.rejects(driver.spawn(spec), /already exists/);
        assert.equal(await driver.powerState(spec.uuid), 'running', 'the refusal changed nothing');
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'destroys, and destroying what is not there succeeds',
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await driver.destroy(spec.uuid);
        assert.ok(!(await listed(driver, spec.uuid)));
        await driver.destroy(spec.uuid);
        await assert.rejects(driver.powerState(spec.uuid), InstanceNotOnHost);
      }),
    );

    it(
      'forgets an instance (without shared storage, as destroy), and forgetting what is not there succeeds',
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await driver.forget(spec.uuid);
        assert.ok(!(await listed(driver, spec.uuid)), 'no longer listed');
        await assert.rejects(driver.powerState(spec.uuid), InstanceNotOnHost);
        await driver.forget(spec.uuid);
        await driver.forget(crypto.randomUUID());
        // Nothing of it is left to stop the same instance coming back here later.
        await driver.spawn(spec);
        assert.equal(await driver.powerState(spec.uuid), 'running');
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'powers off and on (both idempotent) and reboots soft and hard',
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await driver.powerOff(spec.uuid, 5);
        assert.equal(await driver.powerState(spec.uuid), 'shutdown');
        await driver.powerOff(spec.uuid, 5);
        await driver.powerOn(spec.uuid);
        await driver.powerOn(spec.uuid);
        assert.equal(await driver.powerState(spec.uuid), 'running');
        await driver.reboot(spec.uuid, 'soft');
        await driver.reboot(spec.uuid, 'hard');
        assert.equal(await driver.powerState(spec.uuid), 'running');
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'pauses and unpauses, suspends and resumes',
      withDriver(async ({ driver, image }, t) => {
        if (skipped(t, lacks(driver, 'supportsPause') || lacks(driver, 'supportsSuspend'))) return;
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await driver.pause(spec.uuid);
        assert.equal(await driver.powerState(spec.uuid), 'paused');
        await driver.unpause(spec.uuid);
        await driver.suspend(spec.uuid);
        assert.equal(await driver.powerState(spec.uuid), 'suspended');
        await driver.resume(spec.uuid);
        assert.equal(await driver.powerState(spec.uuid), 'running');
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'rescues and unrescues, snapshots, resizes and reverts',
      withDriver(async ({ driver, image }, t) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await t.test('rescue and unrescue', { skip: lacks(driver, 'supportsRescue') }, async () => {
          await driver.rescue(spec.uuid, image);
          assert.equal(await driver.powerState(spec.uuid), 'running');
          await assert.rejects(driver.rescue(spec.uuid, image), /already rescued/);
          await driver.unrescue(spec.uuid);
          await assert.rejects(driver.unrescue(spec.uuid), /not rescued/);
        });
        await t.test('snapshot', { skip: lacks(driver, 'supportsSnapshot') }, async () => {
          let bytes = 0;
          await driver.snapshot(spec.uuid, async (data) => {
            for await (const c of data) bytes += (c as Buffer).length;
          });
          assert.ok(bytes > 0, 'a snapshot has data');
        });
        await t.test('resize and revert', { skip: lacks(driver, 'supportsResize') }, async () => {
          const bigger = { ...spec.flavor, vcpus: 2, memoryMb: 256 };
          await driver.resize(spec.uuid, bigger);
          await driver.revertResize(spec.uuid, spec.flavor);
          assert.equal(await driver.powerState(spec.uuid), 'running');
        });
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'keeps a bounded console log and attaches and detaches interfaces',
      withDriver(async ({ driver, image }, t) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await t.test('console log', { skip: lacks(driver, 'supportsConsoleLog') }, async () => {
          // A real guest writes its console as it boots: give it time to say something.
          let out = '';
          for (const until = Date.now() + 120_000; out.length === 0 && Date.now() < until;) {
            out = await driver.consoleOutput(spec.uuid, 10_000);
            if (out.length === 0) await new Promise((r) => setTimeout(r, 250));
          }
          assert.ok(out.length > 0);
          assert.ok((await driver.consoleOutput(spec.uuid, 5)).length <= 5);
        });
        await t.test('interfaces', { skip: lacks(driver, 'supportsAttachInterface') }, async () => {
          const nic = { portId: 'p1', mac: 'fa:16:3e:00:00:01', bridge: null };
          await driver.attachInterface(spec.uuid, nic);
          await assert.rejects(driver.attachInterface(spec.uuid, nic), /already attached/);
          await driver.detachInterface(spec.uuid, 'p1');
          await assert.rejects(driver.detachInterface(spec.uuid, 'p1'), /not attached/);
        });
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'attaches and detaches volumes, each once',
      withDriver(async ({ driver, image }, t) => {
        if (skipped(t, lacks(driver, 'supportsAttachVolume'))) return;
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        // Two small raw files stand for volumes the volume service connected to this host.
        const dir = mkdtempSync(join(tmpdir(), 'nubes-contract-volumes-'));
        const paths = ['a.raw', 'b.raw'].map((n) => {
          const p = join(dir, n);
          writeFileSync(p, '');
          truncateSync(p, 1 << 20);
          return p;
        });
        const v = {
          volumeId: crypto.randomUUID(),
          path: paths[0]!,
          format: 'raw' as const,
          device: null,
          readOnly: false,
        };
        const { device } = await driver.attachVolume(spec.uuid, v);
        assert.match(device, /^vd[b-z]$/);
        await assert.rejects(driver.attachVolume(spec.uuid, v), /already attached/);
        const second = await driver.attachVolume(spec.uuid, {
          ...v,
          volumeId: crypto.randomUUID(),
          path: paths[1]!,
        });
        assert.notEqual(second.device, device);
        await driver.detachVolume(spec.uuid, v.volumeId);
        await assert.rejects(driver.detachVolume(spec.uuid, v.volumeId), /not attached/);
        await driver.destroy(spec.uuid);
        rmSync(dir, { recursive: true, force: true });
      }),
    );

    it(
      'watches: reports a hypervisor process killed behind its back, not what it was asked to do, and stops when told',
      withDriver(async ({ driver, image, crash }, t) => {
        if (skipped(t, crash ? false : 'this subject cannot kill a guest behind the driver'))
          return;
        const [asked, killed, later] = [
          instanceSpec(image),
          instanceSpec(image),
          instanceSpec(image),
        ];
        await driver.spawn(asked);
        await driver.spawn(killed);
        const seen: LifecycleEvent[] = [];
        const unwatch = driver.watch((e) => seen.push(e));
        try {
          // Guests already running when the watch starts are watched too (an agent restarted); the
          // watch attaches to them in the background, which the contract gives a moment.
          await new Promise((r) => setTimeout(r, 1500));
          const event = nextEvent(driver, (e) => e.uuid === killed.uuid, 30_000);
          await driver.powerOff(asked.uuid, 0);
          await driver.spawn(later);
          await crash!(killed.uuid);
          const e = await event;
          assert.ok(e.fault !== null && e.fault.length > 0, 'a killed process is a fault');
          assert.ok(['shutdown', 'crashed'].includes(e.powerState), e.powerState);
          assert.equal(await driver.powerState(killed.uuid), e.powerState);
          assert.deepEqual(
            seen.filter((x) => x.uuid !== killed.uuid),
            [],
            'a power-off or spawn the driver was asked for is no event',
          );
        } finally {
          unwatch();
        }
        await crash!(later.uuid);
        await new Promise((r) => setTimeout(r, 3000));
        assert.ok(!seen.some((x) => x.uuid === later.uuid), 'no events once unwatched');
        for (const s of [asked, killed, later]) await driver.destroy(s.uuid);
      }),
    );

    it(
      'live-migrates a running instance to another host; a failed send leaves it running here, an aborted migration nothing there',
      withTwo(async (a, b, t) => {
        if (skipped(t, lacks(a.driver, 'supportsLiveMigration'))) return;
        const spec = instanceSpec(a.image);
        await a.driver.spawn(spec);
        await assert.rejects(a.driver.migrate(spec.uuid, { uri: 'nowhere', disks: 'nowhere' }));
        assert.equal(await a.driver.powerState(spec.uuid), 'running', 'it runs on at the source');
        const target = await b.driver.prepareMigration(spec, { block: true });
        await a.driver.migrate(spec.uuid, target);
        await b.driver.finishMigration(spec.uuid, true);
        assert.ok(!(await listed(a.driver, spec.uuid)), 'gone from the source');
        assert.equal(await b.driver.powerState(spec.uuid), 'running');
        const other = instanceSpec(a.image);
        await b.driver.prepareMigration(other, { block: true });
        await b.driver.finishMigration(other.uuid, false);
        assert.ok(!(await listed(b.driver, other.uuid)), 'nothing left of the aborted one');
        await b.driver.finishMigration(other.uuid, false);
        await b.driver.destroy(spec.uuid);
      }),
    );

    it(
      'cold-migrates: sendDisks shuts the instance down and sends its disks, which arrive shut down; a failed send leaves it as it was',
      withTwo(async (a, b) => {
        const spec = instanceSpec(a.image);
        await a.driver.spawn(spec);
        await assert.rejects(a.driver.sendDisks(spec.uuid, { uri: 'nowhere', disks: 'nowhere' }));
        assert.equal(await a.driver.powerState(spec.uuid), 'running', 'as it was: running');
        const target = await b.driver.prepareMigration(spec, { block: true });
        await a.driver.sendDisks(spec.uuid, target);
        // The source keeps it, shut down, until the move is confirmed (a revert starts it there).
        assert.equal(await a.driver.powerState(spec.uuid), 'shutdown');
        await b.driver.finishMigration(spec.uuid, true);
        assert.equal(await b.driver.powerState(spec.uuid), 'shutdown', 'it arrives as it left');
        await b.driver.powerOn(spec.uuid);
        assert.equal(await b.driver.powerState(spec.uuid), 'running');
        await a.driver.destroy(spec.uuid);
        assert.ok(!(await listed(a.driver, spec.uuid)));
        await b.driver.destroy(spec.uuid);
      }),
    );
  });
}
