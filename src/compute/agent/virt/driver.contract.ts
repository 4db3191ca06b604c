// The virt driver contract (driver.ts), one suite for every driver: run on `fake` always and on
// `qemu` where QEMU can boot (issue 6). A driver that lacks a capability skips those cases, saying so.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceNotOnHost, type ImageSpec, type InstanceSpec, type VirtDriver } from './driver.ts';

export interface ContractSubject {
  readonly driver: VirtDriver;
  /** The image every case boots. */
  readonly image: ImageSpec;
  close(): Promise<void>;
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
    const withDriver = (fn: (s: ContractSubject) => Promise<void>) => async () => {
      const s = await make();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };

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
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'destroys, and destroying what is not there succeeds',
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        await driver.destroy(spec.uuid);
        assert.ok(!(await driver.listInstances()).some((i) => i.uuid === spec.uuid));
        await driver.destroy(spec.uuid);
        await assert.rejects(driver.powerState(spec.uuid), InstanceNotOnHost);
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
      withDriver(async ({ driver, image }) => {
        if (!driver.capabilities.supportsPause || !driver.capabilities.supportsSuspend) return;
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
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        if (driver.capabilities.supportsRescue) {
          await driver.rescue(spec.uuid, image);
          await driver.unrescue(spec.uuid);
        }
        if (driver.capabilities.supportsSnapshot) {
          let bytes = 0;
          await driver.snapshot(spec.uuid, async (data) => {
            for await (const c of data) bytes += (c as Buffer).length;
          });
          assert.ok(bytes > 0, 'a snapshot has data');
        }
        if (driver.capabilities.supportsResize) {
          const bigger = { ...spec.flavor, vcpus: 2, memoryMb: 256 };
          await driver.resize(spec.uuid, bigger);
          await driver.revertResize(spec.uuid, spec.flavor);
          assert.equal(await driver.powerState(spec.uuid), 'running');
        }
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'keeps a bounded console log and attaches and detaches interfaces',
      withDriver(async ({ driver, image }) => {
        const spec = instanceSpec(image);
        await driver.spawn(spec);
        if (driver.capabilities.supportsConsoleLog) {
          // A real guest writes its console as it boots: give it time to say something.
          let out = '';
          for (const until = Date.now() + 120_000; out.length === 0 && Date.now() < until;) {
            out = await driver.consoleOutput(spec.uuid, 10_000);
            if (out.length === 0) await new Promise((r) => setTimeout(r, 250));
          }
          assert.ok(out.length > 0);
          assert.ok((await driver.consoleOutput(spec.uuid, 5)).length <= 5);
        }
        if (driver.capabilities.supportsAttachInterface) {
          await driver.attachInterface(spec.uuid, {
            portId: 'p1',
            mac: 'fa:16:3e:00:00:01',
            bridge: null,
          });
          await assert.rejects(
            driver.attachInterface(spec.uuid, {
              portId: 'p1',
              mac: 'fa:16:3e:00:00:01',
              bridge: null,
            }),
          );
          await driver.detachInterface(spec.uuid, 'p1');
        }
        await driver.destroy(spec.uuid);
      }),
    );

    it(
      'attaches and detaches volumes, each once',
      withDriver(async ({ driver, image }) => {
        if (!driver.capabilities.supportsAttachVolume) return;
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

    it('live-migrates a running instance to another host, and an aborted migration leaves nothing there', async () => {
      const [a, b] = [await make(), await make()];
      try {
        if (!a.driver.capabilities.supportsLiveMigration) return;
        const spec = instanceSpec(a.image);
        await a.driver.spawn(spec);
        const target = await b.driver.prepareMigration(spec, { block: true });
        await a.driver.migrate(spec.uuid, target);
        await b.driver.finishMigration(spec.uuid, true);
        assert.ok(
          !(await a.driver.listInstances()).some((i) => i.uuid === spec.uuid),
          'gone from the source',
        );
        assert.equal(await b.driver.powerState(spec.uuid), 'running');
        const other = instanceSpec(a.image);
        await b.driver.prepareMigration(other, { block: true });
        await b.driver.finishMigration(other.uuid, false);
        assert.ok(
          !(await b.driver.listInstances()).some((i) => i.uuid === other.uuid),
          'nothing left of the aborted one',
        );
        await b.driver.destroy(spec.uuid);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
