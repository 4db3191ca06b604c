// AggregateInstanceExtraSpecsFilter: flavor extra specs `aggregate_instance_extra_specs:<key>=<value>`
// (or a bare `<key>` without a namespace) must be in the metadata of an aggregate the host is in.
import type { Filter } from '../host-state.ts';

const SCOPE = 'aggregate_instance_extra_specs:';

export const AggregateInstanceExtraSpecsFilter: Filter = {
  name: 'AggregateInstanceExtraSpecsFilter',
  passes: (h, s) =>
    Object.entries(s.flavor.extraSpecs).every(([k, v]) => {
      const scoped = k.startsWith(SCOPE);
      if (!scoped && k.includes(':')) return true;
      const key = scoped ? k.slice(SCOPE.length) : k;
      return (h.aggregateMetadata[key] ?? []).includes(v);
    }),
};
