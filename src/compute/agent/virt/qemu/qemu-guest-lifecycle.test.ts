// What a user relies on from the QEMU driver, proved on real QEMU by the nubes-tiny guest's own
// serial console: suspend/resume, resize (revert, confirm), rescue, ephemeral and swap disks, the
// lifecycle watch (also after an agent restart) and a bounded console log. Boots are slow (TCG), so
// each guest serves several checks; the checks of one describe run in order on the same guest.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QemuDriver, type QemuDriverOptions } from './qemu-driver.ts';
import type { DriverStep, InstanceSpec } from '../driver.ts';
import { qemuImgInfo } from '../../../../host/qemu-img.ts';
import {
  accel,
  alive,
  bootReady,
  boots,
  cleanUp,
  factsOf,
  flavor,
  instanceDir,
  missing,
  qemuPidOf,
  recorder,
  spec,
  stateDir,
  ticks,
  tinyDisk,
  tinyImage,
  waitUntil,
} from '../../../../../test/support/qemu-test-guest.ts';

describe(
  `a guest on the qemu driver keeps what the user relies on (${accel})`,
  { skip: missing },
  () => {
    // One guest through suspend/resume, resize (revert, then confirm), rescue and unrescue. Its
    // user-data runs on every boot: it prints the guest's own view (boot-count, CPUs, memory, the
    // sizes of vda and vdb, the boot-count on vda2 wherever it is mounted, whether /data/resized and
    // vdb2 exist), writes /data/resized whenever it runs on 2 vCPUs, and starts a counter printed
    // every second.
    const script = `
n=$(cat /data/boot-count 2>/dev/null)
if [ -e /data/resized ]; then r=yes; else r=no; fi
if [ -e /sys/class/block/vdb2 ]; then v=yes; else v=no; fi
if grep -q '^/dev/vda2 /data ' /proc/mounts; then va=$(cat /data/boot-count)
elif mkdir -p /mnt/vda2 && mount -t ext4 -o ro /dev/vda2 /mnt/vda2 2>/dev/null; then va=$(cat /mnt/vda2/boot-count 2>/dev/null || echo none); umount /mnt/vda2
else va=unreadable; fi
cpus=$(grep -c ^processor /proc/cpuinfo)
echo "NUBES-TEST facts boot=$n cpus=$cpus mem=$(awk '/MemTotal/{print $2}' /proc/meminfo) vda=$(cat /sys/block/vda/size) va=$va vdb=$(cat /sys/block/vdb/size 2>/dev/null || echo none) resized=$r vdb2=$v"
if [ "$cpus" = 2 ]; then echo "written on 2 vCPUs at boot $n" > /data/resized; sync; fi
( i=0; while :; do i=$((i + 1)); printf '\\nNUBES-TEST tick %d\\n' "$i"; sleep 1; done ) &
`;
    const dirs: string[] = [];
    const drivers: QemuDriver[] = [];
    let driver: QemuDriver;
    let rec: ReturnType<typeof recorder>;
    const steps: DriverStep[] = [];
    let guest: InstanceSpec;
    let dir: string;
    let first: Record<string, string>;
    const bigger = flavor({ vcpus: 2, memoryMb: 256, rootGb: 2 });
    const console = () => driver.consoleOutput(guest.uuid, 1 << 20);

    before(async () => {
      const state = stateDir();
      dirs.push(state);
      driver = new QemuDriver({
        stateDir: state,
        accel,
        shutdownTimeoutSeconds: 60,
        watchIntervalMs: 250,
      });
      drivers.push(driver);
      rec = recorder(driver);
      driver.steps((s) => steps.push(s));
      guest = spec(await tinyImage(), flavor(), script);
      dir = instanceDir(state, guest.uuid);
      await driver.spawn(guest);
      first = factsOf(await bootReady(driver, guest.uuid, 1, /NUBES-TEST facts/), 'facts')!;
      assert.deepEqual(
        { boot: first['boot'], cpus: first['cpus'], vda: first['vda'], resized: first['resized'] },
        { boot: '1', cpus: '1', vda: String(2 ** 30 / 512), resized: 'no' },
        'the first boot sees the flavor it was given',
      );
    });
    after(() => cleanUp(drivers, dirs));

    it('suspends to disk with no QEMU left running, and resumes the same running guest', async () => {
      const counted = await waitUntil(
        'the counter to reach 3',
        async () => {
          const t = ticks(await console());
          return (t.at(-1) ?? 0) >= 3 ? t.at(-1) : undefined;
        },
        console,
      );
      const pid = qemuPidOf(dir);
      assert.ok(pid !== null, 'QEMU runs before the suspend');
      await driver.suspend(guest.uuid);
      assert.equal(await driver.powerState(guest.uuid), 'suspended');
      assert.ok(!alive(pid), `QEMU (pid ${pid}) is gone while suspended`);
      assert.equal(qemuPidOf(dir), null, 'and no other QEMU runs for the instance');
      assert.ok(existsSync(join(dir, 'memory.state')), 'the guest memory is on disk');
      const whileSuspended = ticks(await console()).at(-1)!;
      await sleep(2000);
      assert.equal(ticks(await console()).at(-1), whileSuspended, 'nothing runs while suspended');
      assert.ok(whileSuspended >= counted);

      await driver.resume(guest.uuid);
      assert.equal(await driver.powerState(guest.uuid), 'running');
      assert.ok(!existsSync(join(dir, 'memory.state')), 'the saved memory goes once resumed');
      const out = await waitUntil(
        'the counter to go on after the resume',
        async () => {
          const o = await console();
          return (ticks(o).at(-1) ?? 0) >= whileSuspended + 3 ? o : undefined;
        },
        console,
      );
      const t = ticks(out);
      assert.deepEqual(
        t,
        t.map((_, i) => i + 1),
        'one counter, 1, 2, 3, ... without a restart or a gap',
      );
      assert.equal(boots(out).length, 1, 'no new boot: the guest went on where it was');
    });

    it('resizes to 2 vCPUs, more memory and a bigger disk; a revert brings back the old flavor and disk; a confirm keeps the new', async () => {
      await driver.resize(guest.uuid, bigger);
      assert.equal(await driver.powerState(guest.uuid), 'running');
      const resized = factsOf(await bootReady(driver, guest.uuid, 2, /NUBES-TEST facts/), 'facts')!;
      assert.equal(resized['boot'], '2');
      assert.equal(resized['cpus'], '2', 'the guest sees 2 vCPUs');
      assert.ok(
        Number(resized['mem']) > Number(first['mem']) + 40_000,
        `the guest sees more memory (${resized['mem']} kB, was ${first['mem']} kB)`,
      );
      assert.equal(resized['vda'], String((2 * 2 ** 30) / 512), 'the root disk is 2 GiB');
      assert.equal(resized['resized'], 'no');
      // The user-data has now written /data/resized on the resized disk (it runs on 2 vCPUs).

      await driver.revertResize(guest.uuid, flavor());
      assert.equal(await driver.powerState(guest.uuid), 'running');
      const reverted = factsOf(
        await bootReady(driver, guest.uuid, 3, /NUBES-TEST facts/),
        'facts',
      )!;
      assert.deepEqual(
        { cpus: reverted['cpus'], mem: reverted['mem'], vda: reverted['vda'] },
        { cpus: first['cpus'], mem: first['mem'], vda: first['vda'] },
        'the old vCPUs, memory and disk size',
      );
      assert.equal(
        reverted['resized'],
        'no',
        'the old disk content: what the resized guest wrote is not there',
      );
      assert.equal(
        reverted['boot'],
        '2',
        'the old disk: its boot-count goes on from before the resize',
      );
      assert.ok(
        !existsSync(join(dir, 'disk.pre-resize.qcow2')) &&
          !existsSync(join(dir, 'vm.pre-resize.json')),
        'a revert leaves nothing to revert',
      );

      await driver.resize(guest.uuid, bigger);
      const again = factsOf(await bootReady(driver, guest.uuid, 4, /NUBES-TEST facts/), 'facts')!;
      assert.deepEqual(
        { boot: again['boot'], cpus: again['cpus'], mem: again['mem'], vda: again['vda'] },
        { boot: '3', cpus: '2', mem: resized['mem'], vda: resized['vda'] },
      );
      assert.ok(
        existsSync(join(dir, 'disk.pre-resize.qcow2')) &&
          existsSync(join(dir, 'vm.pre-resize.json')),
        'what a revert needs is kept until the confirm',
      );
      await driver.confirmResize(guest.uuid);
      assert.ok(!existsSync(join(dir, 'disk.pre-resize.qcow2')), 'the confirm drops the old disk');
      assert.ok(!existsSync(join(dir, 'vm.pre-resize.json')), 'and the old definition');
      assert.equal(await driver.powerState(guest.uuid), 'running', 'the guest runs on, resized');
    });

    let rescued = '';
    it("rescues: a fresh copy of the rescue image boots first, the instance's own disk is second", async () => {
      await driver.rescue(guest.uuid, await tinyImage('8e2d4b61-0f3a-4c5d-9e7b-1a2b3c4d5e6f'));
      assert.equal(await driver.powerState(guest.uuid), 'running');
      rescued = await bootReady(driver, guest.uuid, 5, /NUBES-TEST facts/);
      const r = factsOf(rescued, 'facts')!;
      const imageSize = (await qemuImgInfo(await tinyDisk(), 'qcow2')).virtualSize;
      assert.equal(
        r['vda'],
        String(imageSize / 512),
        "the first disk is the rescue image's size (128 MiB), not the 2 GiB root",
      );
      assert.ok(
        r['va'] === 'none' || r['va'] === '1',
        `the first disk is a fresh copy of the rescue image: nothing booted from it before (boot-count on vda2: ${r['va']})`,
      );
      assert.equal(
        r['vdb'],
        String((2 * 2 ** 30) / 512),
        "the instance's 2 GiB root disk is second",
      );
      assert.equal(r['vdb2'], 'yes', 'with its data partition');
    });

    it("the rescue system mounts its own /data, not the instance's", () => {
      assert.match(rescued, /nubes-tiny: data mounted \/dev\/vda2\r?$/m);
      assert.match(rescued, /nubes-tiny: boot-count 1\r?$/m);
    });

    it('unrescues: the instance boots from its own disk again, its boot-count going on', async () => {
      await driver.unrescue(guest.uuid);
      assert.equal(await driver.powerState(guest.uuid), 'running');
      const back = await bootReady(driver, guest.uuid, 6, /NUBES-TEST facts/);
      assert.match(back, /nubes-tiny: data mounted \/dev\/vda2\r?$/m);
      const u = factsOf(back, 'facts')!;
      assert.equal(u['vda'], String((2 * 2 ** 30) / 512), 'the own 2 GiB root disk is first again');
      assert.equal(u['vdb'], 'none', 'and the rescue disk is gone');
      // 3 boots before the rescue and this one: the rescue system counted on its own disk, not this one.
      assert.equal(u['boot'], '4', 'its boot-count goes on from where it was');
      assert.equal(u['resized'], 'yes', 'with what the instance wrote before the rescue');
      assert.ok(!existsSync(join(dir, 'disk.rescue.qcow2')), 'the rescue disk file is gone');
    });

    it("reports none of the driver's own stops (suspend, resize, rescue, powerOff) as lifecycle events, and tells its clean shutdown's steps", async () => {
      const before = steps.length;
      await driver.powerOff(guest.uuid, 60);
      assert.deepEqual(
        steps.slice(before),
        [
          { uuid: guest.uuid, step: 'shutdown_wait', seconds: 60 },
          { uuid: guest.uuid, step: 'shutdown_done', seconds: 60 },
        ],
        'the wait for the guest, then its clean stop',
      );
      assert.equal(await driver.powerState(guest.uuid), 'shutdown');
      assert.match(
        boots(await console()).at(-1) ?? '',
        /nubes-tiny: power button, shutting down/,
        'powerOff pressed the power button first',
      );
      // Events come a moment after QEMU exits; give a stray one time to arrive.
      await sleep(3000);
      assert.deepEqual(rec.events, [], 'no event at all');
    });
  },
);

describe(`the qemu driver's watch and a flavor's extra disks (${accel})`, { skip: missing }, () => {
  // A guest with an ephemeral disk and swap that prints what it sees of them, and powers itself off
  // on its first boot only; booted again, it is watched by a second driver (an agent restarted) and killed.
  const script = `
n=$(cat /data/boot-count 2>/dev/null)
e=$(findfs LABEL=ephemeral0 2>/dev/null)
mkdir -p /mnt/eph
if [ -n "$e" ] && mount -t ext4 "$e" /mnt/eph; then ef=ext4; umount /mnt/eph; else ef=none; fi
s=$(findfs LABEL=swap0 2>/dev/null)
[ -n "$s" ] || s=/dev/vdc
if swapon "$s" 2>/dev/null; then sw=$(awk 'NR > 1 { printf "%s:%s", $1, $3 }' /proc/swaps); swapoff "$s"; else sw=none; fi
echo "NUBES-TEST disks boot=$n eph=$e eph-fs=$ef swap=$sw"
awk 'NR > 2 && $4 != "" { print "NUBES-TEST part " $4 " " $3 }' /proc/partitions
if [ "$n" = 1 ]; then echo "NUBES-TEST powering off"; poweroff; fi
`;
  const dirs: string[] = [];
  const drivers: QemuDriver[] = [];
  let state: string;
  let guest: InstanceSpec;
  let first: QemuDriver;
  let firstRec: ReturnType<typeof recorder>;
  const opts = (): QemuDriverOptions => ({
    stateDir: state,
    accel,
    shutdownTimeoutSeconds: 60,
    watchIntervalMs: 250,
  });

  before(async () => {
    state = stateDir();
    dirs.push(state);
    first = new QemuDriver(opts());
    drivers.push(first);
    firstRec = recorder(first);
    guest = spec(await tinyImage(), flavor({ ephemeralGb: 1, swapMb: 64 }), script);
    await first.spawn(guest);
  });
  after(() => cleanUp(drivers, dirs));

  it('gives the guest its ephemeral disk (ext4, ephemeral0) and swap, and reports the guest powering itself off as a clean shutdown', async () => {
    const console = () => first.consoleOutput(guest.uuid, 1 << 20);
    const event = await waitUntil(
      "the guest's own poweroff to be reported",
      async () => firstRec.of(guest.uuid)[0],
      console,
    );
    assert.deepEqual(event, { uuid: guest.uuid, powerState: 'shutdown', fault: null });
    assert.equal(await first.powerState(guest.uuid), 'shutdown');
    const out = await console();
    assert.match(out, /NUBES-TEST powering off/);
    const disks = factsOf(out, 'disks')!;
    assert.equal(disks['boot'], '1');
    assert.match(disks['eph'] ?? '', /^\/dev\/vd[b-z]$/, 'a disk labelled ephemeral0');
    assert.equal(disks['eph-fs'], 'ext4', 'that mounts as ext4');
    const swap = /^(\/dev\/vd[b-z]):(\d+)$/.exec(disks['swap'] ?? '');
    assert.ok(swap, `the swap disk is accepted by swapon (got ${disks['swap']})`);
    assert.ok(
      Number(swap[2]) > 60_000 && Number(swap[2]) <= 65_536,
      `64 MiB of swap (${swap[2]} kB)`,
    );
    const parts = new Map(
      [...out.matchAll(/NUBES-TEST part (\S+) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
    );
    assert.equal(parts.get(disks['eph']!.slice(5)), 2 ** 20, 'the ephemeral disk is 1 GiB');
    assert.equal(parts.get(swap[1]!.slice(5)), 2 ** 16, 'the swap disk is 64 MiB');
    await sleep(1000);
    assert.equal(firstRec.of(guest.uuid).length, 1, 'one event, not more');
  });

  it('a second driver on the same state directory (an agent restarted) attaches to the running guest and reports its QEMU killed', async () => {
    await first.powerOn(guest.uuid);
    const console = () => first.consoleOutput(guest.uuid, 1 << 20);
    await bootReady(first, guest.uuid, 2, /NUBES-TEST disks boot=2/);
    assert.equal(firstRec.of(guest.uuid).length, 1, 'powering on is not an event');
    firstRec.stop();
    first.close();
    const pid = qemuPidOf(instanceDir(state, guest.uuid));
    assert.ok(pid !== null, 'the guest outlives the driver that started it');

    const second = new QemuDriver(opts());
    drivers.push(second);
    const rec = recorder(second);
    // Well past a few watch intervals: the second driver has attached on its own by now.
    await sleep(3000);
    process.kill(pid, 'SIGKILL');
    const event = await waitUntil(
      'the kill to be reported by the second driver',
      async () => rec.of(guest.uuid)[0],
      console,
    );
    assert.equal(event.uuid, guest.uuid);
    assert.equal(event.powerState, 'shutdown');
    assert.ok(
      typeof event.fault === 'string' && event.fault.length > 0,
      'a fault says what happened',
    );
    await sleep(2000);
    assert.equal(rec.of(guest.uuid).length, 1, 'one event, not more');
    assert.equal(firstRec.of(guest.uuid).length, 1, 'the closed driver reports nothing');
    assert.equal(await second.powerState(guest.uuid), 'shutdown');
  });
});

describe(`the qemu driver keeps the serial log bounded (${accel})`, { skip: missing }, () => {
  // consoleBytes 4096: the kernel's boot messages alone are more; the user-data then writes about
  // 80 KiB at once (a burst faster than the watch's rotation) and a last line.
  const consoleBytes = 4096;
  const script = `
i=0
while [ $i -lt 1000 ]; do i=$((i + 1)); echo "NUBES-TEST burst $i ................................................................"; done
echo "NUBES-TEST burst done"
`;
  const dirs: string[] = [];
  const drivers: QemuDriver[] = [];
  let state: string;
  let driver: QemuDriver;
  let rec: ReturnType<typeof recorder>;
  let guest: InstanceSpec;

  before(async () => {
    state = stateDir();
    dirs.push(state);
    driver = new QemuDriver({ stateDir: state, accel, consoleBytes, watchIntervalMs: 200 });
    drivers.push(driver);
    rec = recorder(driver);
    guest = spec(await tinyImage(), flavor(), script);
    await driver.spawn(guest);
  });
  after(() => cleanUp(drivers, dirs));

  it('keeps serial.log and serial.log.1 under twice consoleBytes, and consoleOutput returns the newest lines', async () => {
    const console = () => driver.consoleOutput(guest.uuid, 1 << 20);
    await waitUntil(
      'the guest to be ready after its burst',
      async () => (/nubes-tiny: ready\r?$/m.test(await console()) ? true : undefined),
      console,
    );
    await sleep(1000);
    const out = await console();
    assert.ok(Buffer.byteLength(out) <= consoleBytes, 'consoleOutput answers at most consoleBytes');
    assert.match(out, /NUBES-TEST burst 1000 /, 'the newest lines are there');
    assert.match(out, /NUBES-TEST burst done/);
    assert.match(out, /nubes-tiny: user-data exit 0/);
    const log = join(instanceDir(state, guest.uuid), 'serial.log');
    assert.ok(existsSync(`${log}.1`), 'the log has rotated');
    // A few watch intervals for the last rotation, then the size stays put (the guest is idle now).
    const size = () => statSync(log).size + statSync(`${log}.1`).size;
    for (let n = 0; n < 5; n++) {
      await sleep(500);
      assert.ok(
        size() <= 2 * consoleBytes + 512,
        `serial.log + serial.log.1 = ${size()} bytes, more than 2 × ${consoleBytes} + 512`,
      );
    }
  });

  it('reports a QEMU killed under it as one shutdown with a fault', async () => {
    const pid = qemuPidOf(instanceDir(state, guest.uuid));
    assert.ok(pid !== null);
    process.kill(pid, 'SIGKILL');
    const event = await waitUntil('the kill to be reported', async () => rec.of(guest.uuid)[0]);
    assert.equal(event.powerState, 'shutdown');
    assert.ok(
      typeof event.fault === 'string' && event.fault.length > 0,
      'a fault says what happened',
    );
    await sleep(2000);
    assert.equal(rec.of(guest.uuid).length, 1, 'one event, not more');
  });
});
