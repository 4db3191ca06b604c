// Issue 15, item 15: `nubes doctor` reported on the default data dir while the cloud ran with
// another one, and counted the checks of services not built yet (networking) as needing attention.
// Now it reports on the running cloud's data dir, ties each check to the features that need it,
// and shows the checks only features still to come need as not needed today.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, removeDir, startNubes, type NubesProcess } from '../support/nubes-process.ts';

const NETWORK_CHECKS = ['netns', 'bridge', 'tap', 'veth', 'vlan', 'vxlan', 'nftables', 'dnsmasq'];

describe('nubes doctor while a cloud runs with another data dir', () => {
  let runDir: string;
  let nubes: NubesProcess;
  let out: string;
  before(async () => {
    // Its own run dir: other clouds (other tests) run on this machine at the same time.
    runDir = mkdtempSync(join(tmpdir(), 'nubes-run-'));
    nubes = await startNubes({ env: { NUBES_RUN_DIR: runDir } });
    const env: NodeJS.ProcessEnv = { ...process.env, NUBES_RUN_DIR: runDir };
    delete env['NUBES_DATA_DIR'];
    out = await new Promise((ok) =>
      execFile(join(ROOT, 'bin/nubes'), ['doctor'], { env, timeout: 120_000 }, (_e, o, e) =>
        ok(o + e),
      ),
    );
  });
  after(async () => {
    await nubes.stop().catch(() => undefined);
    removeDir(nubes.dataDir);
    removeDir(runDir);
  });

  it("reports on the running cloud's data dir, not the default", () => {
    assert.match(
      out.split('\n')[0]!,
      new RegExp(
        `^nubes doctor: this host \\(data dir ${nubes.dataDir}, the running nubes up's \\(pid ${nubes.child.pid}\\); virt driver (qemu|fake)\\)$`,
      ),
    );
    assert.match(out, new RegExp(`^data dir +(ok|warn) +${nubes.dataDir}: `, 'm'));
    assert.match(out, /^data dir mode +ok +0700, owner-only/m);
  });

  it('lists the features, and does not count checks only networking (coming) needs', () => {
    assert.match(out, /^FEATURE +STATE +WHY$/m);
    assert.match(out, /^the cloud itself \(APIs, database, token keys\) +ready$/m);
    assert.match(out, /^networking \(coming\) +not needed today +not built yet/m);
    const rows = out.split('\n');
    const status = (name: string) =>
      new RegExp(`^${name.replace(/[()]/g, '\\$&')} +(ok|no|warn)  `).exec(
        rows.find((r) => r.startsWith(`${name} `)) ?? '',
      )?.[1];
    const start = rows.findIndex((r) => r.startsWith('CHECK '));
    const checks = rows.slice(start + 1, rows.indexOf('', start)).map((r) => r.split(/ {2,}/)[0]!);
    for (const n of NETWORK_CHECKS) assert.ok(checks.includes(n), n);
    const counted = checks.filter((n) => !NETWORK_CHECKS.includes(n) && status(n) !== 'ok');
    const tail =
      counted.length === 0
        ? 'Every check needed today passed.'
        : `${counted.length} check${counted.length === 1 ? ' needs' : 's need'} attention.`;
    assert.match(out, new RegExp(`^Nubes can run here: .*${tail.replace('.', '\\.')}$`, 'm'));
  });
});
