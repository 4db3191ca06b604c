// Live and cold migration between two QEMU drivers with state directories of their own (two hosts
// that share no storage), proved by the nubes-tiny guest's serial console: its counter goes on at
// the destination with no new boot, what it wrote to its disks is there after a fresh boot on the
// destination, a paused guest arrives paused, a migration that cannot reach its target leaves the
// guest running where it was, and a cold migration shuts it down cleanly and boots it there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { QemuDriver } from './qemu-driver.ts';
import type { InstanceSpec } from '../driver.ts';
import {
  accel,
  bootReady,
  boots,
  cleanUp,
  factsOf,
  flavor,
  instanceDir,
  missing,
  qemuPidOf,
  spec,
  stateDir,
  ticks,
  tinyImage,
  waitUntil,
} from '../../../../../test/support/qemu-test-guest.ts';

describe(`live and cold migration between two qemu hosts (${accel})`, { skip: missing }, () => {
  // Each boot: the boot-count from the root disk, what the ephemeral disk holds (written at the
  // first boot), and a counter printed every second.
  const script = `
mkdir -p /mnt/eph
eph=$(findfs LABEL=ephemeral0 2>/dev/null)
if [ -n "$eph" ] && mount "$eph" /mnt/eph; then
  [ -e /mnt/eph/first-boot ] || { echo "written at boot $(cat /data/boot-count)" > /mnt/eph/first-boot; sync; }
  e=$(sed 's/ /_/g' /mnt/eph/first-boot)
else e=unmounted; fi
echo "NUBES-TEST facts boot=$(cat /data/boot-count) eph=$e"
( i=0; while :; do i=$((i + 1)); printf '\\nNUBES-TEST tick %d\\n' "$i"; sleep 1; done ) &
`;
  const dirs: string[] = [];
  const drivers: QemuDriver[] = [];
  let a: QemuDriver;
  let b: QemuDriver;
  let stateB: string;
  let guest: InstanceSpec;

  before(async () => {
    const stateA = stateDir();
    stateB = stateDir();
    dirs.push(stateA, stateB);
    a = new QemuDriver({ stateDir: stateA, accel, shutdownTimeoutSeconds: 30 });
    b = new QemuDriver({ stateDir: stateB, accel, shutdownTimeoutSeconds: 30 });
    drivers.push(a, b);
    guest = spec(await tinyImage(), flavor({ ephemeralGb: 1 }), script);
    await a.spawn(guest);
    const facts = factsOf(await bootReady(a, guest.uuid, 1, /NUBES-TEST facts/), 'facts')!;
    assert.deepEqual(facts, { boot: '1', eph: 'written_at_boot_1' });
  });
  after(() => cleanUp(drivers, dirs));

  it('moves a running guest: its counter goes on at the destination with no new boot, and nothing is left at the source', async () => {
    const consoleA = () => a.consoleOutput(guest.uuid, 1 << 20);
    const before = await waitUntil(
      'the counter to reach 3',
      async () => {
        const t = ticks(await consoleA());
        return (t.at(-1) ?? 0) >= 3 ? t.at(-1) : undefined;
      },
      consoleA,
    );
    const target = await b.prepareMigration(guest, { block: true });
    assert.match(target.uri, /^tcp:127\.0\.0\.1:\d+$/);
    assert.match(target.disks ?? '', /^nbd:127\.0\.0\.1:\d+$/);
    await a.migrate(guest.uuid, target);
    await b.finishMigration(guest.uuid, true);

    assert.deepEqual(await a.listInstances(), [], 'gone from the source');
    assert.equal(await b.powerState(guest.uuid), 'running');
    const consoleB = () => b.consoleOutput(guest.uuid, 1 << 20);
    const out = await waitUntil(
      'the counter to go on at the destination',
      async () => {
        const o = await consoleB();
        return ticks(o).length >= 3 ? o : undefined;
      },
      consoleB,
    );
    const t = ticks(out);
    assert.ok(
      t[0]! > before,
      `the destination's first tick (${t[0]}) follows the source's last seen (${before})`,
    );
    assert.deepEqual(
      t,
      t.map((_, i) => t[0]! + i),
      'one counter going on, without a restart',
    );
    assert.equal(boots(out).length, 0, 'the guest did not boot again');
  });

  it("took the disks along: a fresh boot at the destination finds the boot count and the ephemeral disk's file", async () => {
    await b.reboot(guest.uuid, 'hard');
    const facts = factsOf(await bootReady(b, guest.uuid, 1, /NUBES-TEST facts/), 'facts')!;
    assert.deepEqual(facts, { boot: '2', eph: 'written_at_boot_1' });
  });

  it('moves a paused guest paused, and it runs on once unpaused', async () => {
    const consoleB = () => b.consoleOutput(guest.uuid, 1 << 20);
    await waitUntil(
      'the counter after the reboot',
      async () => ((ticks(await consoleB()).at(-1) ?? 0) >= 2 ? true : undefined),
      consoleB,
    );
    await b.pause(guest.uuid);
    const last = ticks(await consoleB()).at(-1)!;
    await b.migrate(guest.uuid, await a.prepareMigration(guest, { block: true }));
    await a.finishMigration(guest.uuid, true);
    assert.equal(await a.powerState(guest.uuid), 'paused');
    assert.ok(!existsSync(instanceDir(stateB, guest.uuid)), "the source's directory is gone");
    await a.unpause(guest.uuid);
    const consoleA = () => a.consoleOutput(guest.uuid, 1 << 20);
    const t = ticks(
      await waitUntil(
        'the counter to go on after the unpause',
        async () => {
          const o = await consoleA();
          return ticks(o).length >= 2 ? o : undefined;
        },
        consoleA,
      ),
    );
    assert.ok(t[0]! > last && t[0]! <= last + 2, `the counter goes on from ${last} (got ${t[0]})`);
  });

  it('a target that cannot be reached fails the migration and the guest runs on at the source', async () => {
    const pid = qemuPidOf(instanceDir(dirs[0]!, guest.uuid));
    await assert.rejects(
      a.migrate(guest.uuid, { uri: 'tcp:127.0.0.1:9', disks: 'nbd:127.0.0.1:9' }),
      /live migration/,
    );
    assert.equal(await a.powerState(guest.uuid), 'running');
    assert.equal(qemuPidOf(instanceDir(dirs[0]!, guest.uuid)), pid, 'the same QEMU');
    const consoleA = () => a.consoleOutput(guest.uuid, 1 << 20);
    const seen = ticks(await consoleA()).at(-1)!;
    await waitUntil(
      'the counter to go on',
      async () => ((ticks(await consoleA()).at(-1) ?? 0) > seen ? true : undefined),
      consoleA,
    );
  });

  it('cold-migrates: the guest shuts down cleanly, arrives shut down with its disks, and boots there; the source keeps its copy for a revert', async () => {
    const consoleA = () => a.consoleOutput(guest.uuid, 1 << 20);
    const target = await b.prepareMigration(guest, { block: true });
    await a.sendDisks(guest.uuid, target);
    await b.finishMigration(guest.uuid, true);
    assert.match(
      await consoleA(),
      /nubes-tiny: (shutting down|powering off)|reboot: Power down/i,
      'the guest was shut down cleanly',
    );
    assert.equal(await a.powerState(guest.uuid), 'shutdown', 'the source keeps its shut-down copy');
    assert.equal(await b.powerState(guest.uuid), 'shutdown', 'it arrives shut down');
    assert.equal(
      qemuPidOf(instanceDir(stateB, guest.uuid)),
      null,
      'no QEMU runs for it at the destination',
    );
    await b.powerOn(guest.uuid);
    const facts = factsOf(await bootReady(b, guest.uuid, 1, /NUBES-TEST facts/), 'facts')!;
    assert.deepEqual(
      facts,
      { boot: '3', eph: 'written_at_boot_1' },
      'the disks as they were at the source, one boot later',
    );
    // A confirm at the source is a destroy there; the copy at the destination is the instance now.
    await a.destroy(guest.uuid);
    assert.deepEqual(await a.listInstances(), []);
    // Back to the first host for the last case.
    await b.migrate(guest.uuid, await a.prepareMigration(guest, { block: true }));
    await a.finishMigration(guest.uuid, true);
    assert.equal(await a.powerState(guest.uuid), 'running');
  });

  it('refuses a migration without block migration (no shared storage) and an aborted one leaves nothing at the destination', async () => {
    await assert.rejects(b.prepareMigration(guest, { block: false }), /block migration/);
    await b.prepareMigration(guest, { block: true });
    await b.finishMigration(guest.uuid, false);
    assert.deepEqual(await b.listInstances(), []);
    assert.ok(!existsSync(instanceDir(stateB, guest.uuid)));
  });
});

describe(`live and cold migration on shared instance storage (${accel})`, { skip: missing }, () => {
  // Two hosts with state directories of their own and one instances path both see (NFS, here a
  // directory): the disks stay where they are and only the guest's state moves.
  const script = `
echo "NUBES-TEST facts boot=$(cat /data/boot-count)"
( i=0; while :; do i=$((i + 1)); printf '\\nNUBES-TEST tick %d\\n' "$i"; sleep 1; done ) &
`;
  const dirs: string[] = [];
  const drivers: QemuDriver[] = [];
  let a: QemuDriver;
  let b: QemuDriver;
  let shared: string;
  let guest: InstanceSpec;
  const disksOf = () => `${shared}/${guest.uuid}`;

  before(async () => {
    const [stateA, stateB] = [stateDir(), stateDir()];
    shared = stateDir();
    dirs.push(stateA, stateB, shared);
    a = new QemuDriver({
      stateDir: stateA,
      accel,
      shutdownTimeoutSeconds: 30,
      instancesPath: shared,
    });
    b = new QemuDriver({
      stateDir: stateB,
      accel,
      shutdownTimeoutSeconds: 30,
      instancesPath: shared,
    });
    drivers.push(a, b);
    guest = spec(await tinyImage(), flavor(), script);
    await a.spawn(guest);
    await bootReady(a, guest.uuid, 1, /NUBES-TEST facts/);
    assert.ok(existsSync(`${disksOf()}/disk.qcow2`), 'the disks are on the shared path');
  });
  after(() => cleanUp(drivers, dirs));

  it('refuses block migration onto the same disks, and an aborted migration leaves the source its disks', async () => {
    await assert.rejects(b.prepareMigration(guest, { block: true }), /shares with its source/);
    await b.prepareMigration(guest, { block: 'auto' });
    await b.finishMigration(guest.uuid, false);
    assert.deepEqual(await b.listInstances(), []);
    assert.ok(existsSync(`${disksOf()}/disk.qcow2`), 'the disks stay');
    assert.equal(await a.powerState(guest.uuid), 'running');
  });

  it('live-migrates without copying the disks: the counter goes on, the disks stay put, the source forgets the guest', async () => {
    const consoleA = () => a.consoleOutput(guest.uuid, 1 << 20);
    const seen = await waitUntil(
      'the counter to reach 2',
      async () => {
        const t = ticks(await consoleA());
        return (t.at(-1) ?? 0) >= 2 ? t.at(-1) : undefined;
      },
      consoleA,
    );
    const target = await b.prepareMigration(guest, { block: 'auto' });
    assert.equal(target.disks, null, 'nothing to copy');
    await a.migrate(guest.uuid, target);
    await b.finishMigration(guest.uuid, true);
    assert.deepEqual(await a.listInstances(), []);
    assert.ok(existsSync(`${disksOf()}/disk.qcow2`), 'the disks are where they were');
    const consoleB = () => b.consoleOutput(guest.uuid, 1 << 20);
    const t = ticks(
      await waitUntil(
        'the counter at the destination',
        async () => {
          const o = await consoleB();
          return ticks(o).length >= 2 ? o : undefined;
        },
        consoleB,
      ),
    );
    assert.ok(t[0]! > seen && boots(await consoleB()).length === 0, 'the same guest, counting on');
  });

  it("cold-migrates on the same disks: shut down at the source, booted at the destination, and the source's forget keeps them", async () => {
    const target = await a.prepareMigration(guest, { block: 'auto' });
    assert.equal(target.disks, null);
    await b.sendDisks(guest.uuid, target);
    await a.finishMigration(guest.uuid, true);
    assert.equal(await a.powerState(guest.uuid), 'shutdown');
    await b.forget(guest.uuid);
    assert.deepEqual(await b.listInstances(), []);
    await a.powerOn(guest.uuid);
    const facts = factsOf(await bootReady(a, guest.uuid, 1, /NUBES-TEST facts/), 'facts')!;
    assert.equal(facts['boot'], '2', 'booted from the same disk, one boot later');
    await a.destroy(guest.uuid);
    assert.ok(!existsSync(disksOf()), 'a destroy takes the disks');
  });
});
