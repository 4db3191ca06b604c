// The compute service as the rest of the program sees it: one factory wiring its use cases
// (flavors, key pairs, hosts, quotas, servers and their actions, server groups), the scheduler,
// the lifecycle between api and hosts, and the conductor agents report to.
import type { DbHandle } from '../platform/db/database.ts';
import type { Policy } from '../platform/policy/policy.ts';
import type { AuthContext } from '../platform/auth/context.ts';
import { computePolicies } from './policies.ts';
import { createFlavorService } from './service/flavors.ts';
import { createKeypairService } from './service/keypairs.ts';
import { seedDefaultFlavors } from './service/default-flavors.ts';
import { createHostService, DEFAULT_HOST_CONFIG, type HostConfig } from './service/hosts.ts';
import { serveConductor } from './service/conductor.ts';
import { createQuotaService, QUOTA_DEFAULTS } from './service/quotas.ts';
import { createLifecycle } from './service/lifecycle.ts';
import { createServerService } from './service/servers.ts';
import { createServerGroupService } from './service/server-groups.ts';
import { createServerActions } from './service/server-actions.ts';
import { createConsoles } from './service/consoles.ts';
import { createAggregateService } from './service/aggregates.ts';
import { createUsageService } from './service/usage.ts';
import { createScheduler } from './scheduler/scheduler.ts';
import {
  checkSchedulerConfig,
  DEFAULT_SCHEDULER_CONFIG,
  type SchedulerConfig,
} from './scheduler/host-selection.ts';
import * as hostStore from './store/hosts.ts';
import type { ImageDataPort, ImagePort } from './service/ports.ts';
import type { Bus, Subscription } from '../platform/bus/bus.ts';
import type { Logger } from '../platform/log.ts';

export type { ImagePort, BootImage, ImageDataPort } from './service/ports.ts';

export interface ComputeConfig {
  readonly hosts: HostConfig;
  readonly scheduler: SchedulerConfig;
}

export const DEFAULT_COMPUTE_CONFIG: ComputeConfig = {
  hosts: DEFAULT_HOST_CONFIG,
  scheduler: DEFAULT_SCHEDULER_CONFIG,
};

export function createComputeService(deps: {
  db: DbHandle;
  policy: Policy;
  config: ComputeConfig;
  images: ImagePort;
  imageData?: ImageDataPort;
  log: Logger;
}) {
  const { db, policy, config, log } = deps;
  policy.register(computePolicies);
  checkSchedulerConfig(config.scheduler);
  const hosts = createHostService({ db, policy, config: config.hosts });
  const quotas = createQuotaService({ db, policy });
  const scheduler = createScheduler({
    db,
    config: config.scheduler,
    downAfterMs: config.hosts.serviceDownSeconds * 1000,
    log,
  });
  const lifecycle = createLifecycle({
    db,
    scheduler,
    log,
    images: deps.images,
    hostIsUp: async (host) => {
      const h = await hostStore.getHost(db, host);
      return h !== undefined && hosts.isUp(h);
    },
  });
  const servers = createServerService({ db, policy, quotas, lifecycle, images: deps.images, log });
  const consoles = createConsoles({ db, servers });
  let bus: Bus | undefined;
  return {
    hosts,
    /** Serves the bus target agents report to (every api process runs one) and sends host work on `b`. */
    serveConductor: (b: Bus): Promise<Subscription> => {
      bus = b;
      lifecycle.attach(b);
      return serveConductor({
        bus: b,
        hosts,
        lifecycle,
        consoles,
        log,
        ...(deps.imageData ? { imageData: deps.imageData } : {}),
      });
    },
    flavors: createFlavorService({ db, policy }),
    keypairs: createKeypairService({
      db,
      policy,
      withLock: quotas.withLock,
      quota: async (ctx) =>
        ctx.scope.kind === 'project'
          ? (await quotas.limitsOf(ctx.scope.project.id)).key_pairs
          : QUOTA_DEFAULTS.key_pairs,
    }),
    quotas,
    servers,
    serverActions: createServerActions({
      db,
      policy,
      servers,
      lifecycle,
      scheduler,
      quotas,
      images: deps.images,
      bus: () => bus,
    }),
    /** Console URLs with tokens (valid until they expire) for the hosts' console proxies. */
    consoles,
    serverGroups: createServerGroupService({ db, policy, quotas }),
    usage: createUsageService({ db, policy }),
    aggregates: createAggregateService({
      db,
      policy,
      defaultZone: config.hosts.defaultAvailabilityZone,
    }),
    scheduler,
    /** Schedules builds a stopped api process left in 'scheduling' (the conductor runs it every 30 s). */
    recoverStalledBuilds: (stalledMs: number) => lifecycle.sweepStalled(stalledMs),
    /** Clears host work whose result never came (the conductor runs it every 30 s, after 30 min). */
    recoverAbandonedWork: (stalledMs: number) => lifecycle.sweepAbandoned(stalledMs),
    isAdmin: (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {}),
    /** First start of a deployment: the default flavors. */
    seed: () => seedDefaultFlavors(db),
  };
}

export type ComputeService = ReturnType<typeof createComputeService>;
