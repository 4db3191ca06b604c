// Every filter the scheduler knows, by the name a configuration's `filters` list uses.
import type { Filter } from '../host-state.ts';
import {
  DifferentHostFilter,
  SameHostFilter,
  ServerGroupAffinityFilter,
  ServerGroupAntiAffinityFilter,
} from './affinity.ts';
import { AggregateInstanceExtraSpecsFilter } from './aggregate-extra-specs.ts';
import { AvailabilityZoneFilter } from './availability-zone.ts';
import { ComputeFilter } from './compute.ts';
import { ImagePropertiesFilter } from './image-properties.ts';
import { ResourceFilter } from './resources.ts';
import { RetryFilter } from './retry.ts';

export const FILTERS: Readonly<Record<string, Filter>> = {
  ComputeFilter,
  RetryFilter,
  ResourceFilter,
  AvailabilityZoneFilter,
  ImagePropertiesFilter,
  ServerGroupAffinityFilter,
  ServerGroupAntiAffinityFilter,
  SameHostFilter,
  DifferentHostFilter,
  AggregateInstanceExtraSpecsFilter,
};
