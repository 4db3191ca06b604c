// The placement-relative filters: a server group's hard affinity and anti-affinity, and the
// same_host and different_host scheduler hints, each against the hosts other instances are on.
import type { Filter } from '../host-state.ts';

export const ServerGroupAffinityFilter: Filter = {
  name: 'ServerGroupAffinityFilter',
  passes: (h, s) =>
    s.group?.policy !== 'affinity' ||
    s.group.memberHosts.length === 0 ||
    s.group.memberHosts.includes(h.host),
};

export const ServerGroupAntiAffinityFilter: Filter = {
  name: 'ServerGroupAntiAffinityFilter',
  passes: (h, s) =>
    s.group?.policy !== 'anti-affinity' ||
    s.group.memberHosts.filter((x) => x === h.host).length < (s.group.maxServerPerHost ?? 1),
};

export const SameHostFilter: Filter = {
  name: 'SameHostFilter',
  passes: (h, s) => s.sameHost === null || s.sameHost.length === 0 || s.sameHost.includes(h.host),
};

export const DifferentHostFilter: Filter = {
  name: 'DifferentHostFilter',
  passes: (h, s) => s.differentHost === null || !s.differentHost.includes(h.host),
};
