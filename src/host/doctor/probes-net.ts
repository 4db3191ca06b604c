// `nubes doctor` on host networking: makes a throwaway network namespace, tries in it each kind of
// device the linuxbridge driver needs (bridge, tap, veth, VLAN, VXLAN) and an nftables table, then
// deletes it. Never touches a link of the host's own namespace and sends no traffic (links stay down).
import { randomBytes } from 'node:crypto';
import { exec, haveCommand } from '../exec.ts';
import { check, isMissing, oneLine, parseVersion, type Check } from './check.ts';

/** The checks probeNetworking reports, in order. */
export const NET_CHECKS = ['netns', 'bridge', 'tap', 'veth', 'vlan', 'vxlan', 'nftables'] as const;

const STEP = { timeoutMs: 5000 };

/** What to do when the kernel refuses a kind of device. */
const FIX: Record<string, string> = {
  bridge: 'modprobe bridge (kernel CONFIG_BRIDGE)',
  tap: 'modprobe tun (/dev/net/tun; kernel CONFIG_TUN)',
  veth: 'modprobe veth (kernel CONFIG_VETH)',
  vlan: 'modprobe 8021q (kernel CONFIG_VLAN_8021Q); without it use flat or VXLAN networks on this host',
  vxlan: 'modprobe vxlan (kernel CONFIG_VXLAN); without it networks cannot span hosts',
};

export interface NetProbeOptions {
  /** The namespace to create; a random nubes-doctor-<hex> by default (tests read it back). */
  readonly namespace?: string;
}

/** Creates a device with `ip -n NS link add ...` (or any argv) and reports it. */
async function tryDevice(name: string, argv: readonly string[], noun: string): Promise<Check> {
  try {
    await exec(argv, STEP);
    return check(name, 'ok', `${noun}: created`);
  } catch (e) {
    return check(name, 'no', `${noun}: cannot be created: ${oneLine(e)}`, { fix: FIX[name] });
  }
}

async function tryNftables(ns: string): Promise<Check> {
  // nft has no option to pick a namespace (its -n means numeric), so it runs under ip netns exec.
  if (!(await haveCommand('nft')))
    return check('nftables', 'no', 'nft is not installed', { fix: 'apt install nftables' });
  try {
    await exec(['ip', 'netns', 'exec', ns, 'nft', 'add', 'table', 'inet', 'nubes_doctor'], STEP);
    const { stdout } = await exec(['nft', '--version'], STEP);
    return check(
      'nftables',
      'ok',
      `nft ${parseVersion(stdout) ?? '(version unknown)'} adds a table in a namespace`,
    );
  } catch (e) {
    return check('nftables', 'no', `nft cannot add a table in a namespace: ${oneLine(e)}`, {
      fix: 'modprobe nf_tables (kernel CONFIG_NF_TABLES)',
    });
  }
}

/** Each kind of device, and an nftables table, in the namespace `ns` (which the caller deletes). */
async function probeDevices(ns: string): Promise<Check[]> {
  const link = (...args: string[]) => ['ip', '-n', ns, 'link', 'add', ...args];
  const [bridge, tap, veth, vxlan, nftables] = await Promise.all([
    tryDevice('bridge', link('nd-br', 'type', 'bridge'), 'a Linux bridge'),
    tryDevice(
      'tap',
      ['ip', '-n', ns, 'tuntap', 'add', 'dev', 'nd-tap', 'mode', 'tap'],
      'a tap device',
    ),
    tryDevice('veth', link('nd-veth0', 'type', 'veth', 'peer', 'name', 'nd-veth1'), 'a veth pair'),
    tryDevice(
      'vxlan',
      link('nd-vxlan', 'type', 'vxlan', 'id', '4242', 'dstport', '4789'),
      'a VXLAN device (VNI 4242)',
    ),
    tryNftables(ns),
  ]);
  // A VLAN sub-interface needs a parent link: the veth, as a NIC would be on a real host.
  const vlan =
    veth.status === 'ok'
      ? await tryDevice(
          'vlan',
          link('link', 'nd-veth0', 'name', 'nd-veth0.42', 'type', 'vlan', 'id', '42'),
          'an 802.1Q VLAN sub-interface (id 42 on a veth)',
        )
      : check('vlan', 'no', 'not tried: a VLAN sub-interface needs a parent link and veth failed');
  return [bridge, tap, veth, vlan, vxlan, nftables];
}

/**
 * Tries each network capability inside a namespace this call creates and always deletes (also when
 * a step fails or hangs: each command has its own time limit). Reports one check per NET_CHECKS.
 */
export async function probeNetworking(opts: NetProbeOptions = {}): Promise<Check[]> {
  const ns = opts.namespace ?? `nubes-doctor-${randomBytes(4).toString('hex')}`;
  try {
    await exec(['ip', 'netns', 'add', ns], STEP);
  } catch (e) {
    // Killed at its time limit, the add may have made the namespace all the same. (Any other
    // failure made nothing, and the name might be someone else's: leave it alone then.)
    if (e instanceof Error && /\(time limit\)/.test(e.message))
      await exec(['ip', 'netns', 'del', ns], STEP).catch(() => undefined);
    const missing = await isMissing('ip', e);
    const why = missing
      ? 'ip is not installed'
      : `cannot create a network namespace: ${oneLine(e)}`;
    const fix = missing
      ? 'apt install iproute2'
      : /permission|not permitted/i.test(oneLine(e))
        ? 'run nubes as root (the agent needs CAP_NET_ADMIN and CAP_SYS_ADMIN)'
        : 'kernel CONFIG_NET_NS';
    return NET_CHECKS.map((n) =>
      n === 'netns'
        ? check(n, 'no', why, { fix })
        : check(n, 'no', 'not tried: no network namespace to try it in (see netns)'),
    );
  }
  const found = await probeDevices(ns).catch((e: unknown) =>
    e instanceof Error ? e : new Error(String(e)),
  );
  // Deleting the namespace deletes every device and table made in it; done whatever happened above.
  const deleted = await exec(['ip', 'netns', 'del', ns], STEP).then(
    () => null,
    (e: unknown) => oneLine(e),
  );
  if (found instanceof Error) throw found;
  const netns =
    deleted === null
      ? check('netns', 'ok', `ip netns add works (probed in ${ns}, deleted afterwards)`)
      : check('netns', 'warn', `probed in ${ns} but could not delete it: ${deleted}`, {
          fix: `ip netns del ${ns}`,
        });
  return [netns, ...found];
}

/** dnsmasq (Debian package dnsmasq-base) serves DHCP to guests; only its presence is checked. */
export async function probeDnsmasq(): Promise<Check> {
  try {
    const { stdout } = await exec(['dnsmasq', '--version'], STEP);
    return check('dnsmasq', 'ok', `dnsmasq ${parseVersion(stdout) ?? '(version unknown)'}`);
  } catch (e) {
    if (await isMissing('dnsmasq', e))
      return check('dnsmasq', 'no', 'dnsmasq is not installed; guests get no DHCP without it', {
        fix: 'apt install dnsmasq-base',
      });
    return check('dnsmasq', 'no', `dnsmasq --version fails: ${oneLine(e)}`, {
      fix: 'reinstall dnsmasq-base',
    });
  }
}
