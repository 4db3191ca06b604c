// The soft server-group policies: prefer the hosts holding the most members (soft-affinity) or
// the fewest (soft-anti-affinity), without ever refusing a host.
import type { HostState, RequestSpec, Weigher } from '../host-state.ts';

const membersOn = (h: HostState, s: RequestSpec) =>
  s.group ? s.group.memberHosts.filter((x) => x === h.host).length : 0;

export const ServerGroupSoftAffinityWeigher: Weigher = {
  name: 'ServerGroupSoftAffinityWeigher',
  value: (h, s) => (s.group?.policy === 'soft-affinity' ? membersOn(h, s) : 0),
};

export const ServerGroupSoftAntiAffinityWeigher: Weigher = {
  name: 'ServerGroupSoftAntiAffinityWeigher',
  value: (h, s) => (s.group?.policy === 'soft-anti-affinity' ? -membersOn(h, s) : 0),
};
