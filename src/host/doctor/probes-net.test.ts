// The network probe, run for real: bridges, taps and veths work here; VLAN is 'no' exactly when the
// kernel refuses it (asked independently, in a namespace of this test's own); no namespace is left.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exec, haveCommand } from '../exec.ts';
import { NET_CHECKS, probeDnsmasq, probeNetworking } from './probes-net.ts';

const root = process.getuid?.() === 0;
const skip = !root
  ? 'needs root (network namespaces)'
  : !(await haveCommand('ip'))
    ? 'iproute2 is not installed'
    : false;

async function namespaces(): Promise<string> {
  return (await exec(['ip', 'netns', 'list'])).stdout;
}

/** Whether this kernel makes a VLAN sub-interface, asked in a namespace the test makes and deletes. */
async function kernelMakesVlans(): Promise<{ ok: boolean; error: string }> {
  const ns = `nubes-doctor-test-${randomBytes(4).toString('hex')}`;
  await exec(['ip', 'netns', 'add', ns]);
  try {
    await exec(['ip', '-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    await exec([
      'ip',
      '-n',
      ns,
      'link',
      'add',
      'link',
      'p0',
      'name',
      'p0.7',
      'type',
      'vlan',
      'id',
      '7',
    ]);
    return { ok: true, error: '' };
  } catch (e) {
    return {
      ok: false,
      error: String((e as { fields?: { stderr?: string } }).fields?.stderr ?? '').trim(),
    };
  } finally {
    await exec(['ip', 'netns', 'del', ns]);
  }
}

describe('network probe', { skip }, () => {
  it('makes a bridge, a tap and a veth, reports VLAN as the kernel does, and deletes its namespace', async () => {
    const ns = `nubes-doctor-${randomBytes(4).toString('hex')}`;
    const checks = await probeNetworking({ namespace: ns });
    assert.deepEqual(
      checks.map((c) => c.name),
      [...NET_CHECKS],
    );
    const by = new Map(checks.map((c) => [c.name, c]));
    for (const name of ['netns', 'bridge', 'tap', 'veth'])
      assert.equal(by.get(name)!.status, 'ok', `${name}: ${by.get(name)!.detail}`);
    assert.match(by.get('netns')!.detail, new RegExp(`probed in ${ns}, deleted afterwards`));

    const vlan = await kernelMakesVlans();
    if (vlan.ok) assert.equal(by.get('vlan')!.status, 'ok', by.get('vlan')!.detail);
    else {
      assert.equal(by.get('vlan')!.status, 'no');
      assert.ok(
        by.get('vlan')!.detail.endsWith(`: ${vlan.error}`),
        `the kernel's own words (${vlan.error}) in: ${by.get('vlan')!.detail}`,
      );
      assert.match(by.get('vlan')!.fix ?? '', /8021q/);
    }

    const nft = by.get('nftables')!;
    if (await haveCommand('nft')) assert.equal(nft.status, 'ok', nft.detail);
    else assert.deepEqual([nft.status, nft.fix], ['no', 'apt install nftables']);

    const after = await namespaces();
    assert.ok(!after.includes(ns), `${ns} is left in:\n${after}`);
  });

  it('reports every check as no, with the reason, when the namespace cannot be made', async () => {
    const checks = await probeNetworking({ namespace: 'bad/name' });
    assert.deepEqual(
      checks.map((c) => c.status),
      NET_CHECKS.map(() => 'no'),
    );
    assert.match(checks[0]!.detail, /^cannot create a network namespace: /);
    assert.equal(checks[1]!.detail, 'not tried: no network namespace to try it in (see netns)');
  });
});

describe('dnsmasq', () => {
  it('is ok with a version when installed, else says to install dnsmasq-base', async () => {
    const c = await probeDnsmasq();
    if (await haveCommand('dnsmasq')) assert.match(c.detail, /^dnsmasq \d+\.\d+/);
    else
      assert.deepEqual(
        [c.status, c.detail, c.fix],
        [
          'no',
          'dnsmasq is not installed; guests get no DHCP without it',
          'apt install dnsmasq-base',
        ],
      );
  });
});
