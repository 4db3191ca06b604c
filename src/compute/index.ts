// The compute service as the rest of the program sees it: one factory wiring its use cases. Flavors
// and key pairs so far; servers, the scheduler and host agents plug in here (issue 5).
import type { Kysely } from 'kysely';
import type { DB } from '../platform/db/schema.ts';
import type { Policy } from '../platform/policy/policy.ts';
import type { AuthContext } from '../platform/auth/context.ts';
import { computePolicies } from './policies.ts';
import { createFlavorService } from './service/flavors.ts';
import { createKeypairService } from './service/keypairs.ts';
import { seedDefaultFlavors } from './service/default-flavors.ts';
import { createHostService, DEFAULT_HOST_CONFIG, type HostConfig } from './service/hosts.ts';
import { serveConductor } from './service/conductor.ts';
import { createQuotaService, QUOTA_DEFAULTS } from './service/quotas.ts';
import type { Bus, Subscription } from '../platform/bus/bus.ts';
import type { Logger } from '../platform/log.ts';

export interface ComputeConfig {
  readonly hosts: HostConfig;
}

export const DEFAULT_COMPUTE_CONFIG: ComputeConfig = { hosts: DEFAULT_HOST_CONFIG };

export function createComputeService(deps: { db: Kysely<DB>; policy: Policy; config: ComputeConfig; log: Logger }) {
  const { db, policy, config, log } = deps;
  policy.register(computePolicies);
  const hosts = createHostService({ db, policy, config: config.hosts });
  const quotas = createQuotaService({ db, policy });
  return {
    hosts,
    /** Serves the bus target agents report to; every api process runs one. */
    serveConductor: (bus: Bus): Promise<Subscription> => serveConductor({ bus, hosts, log }),
    flavors: createFlavorService({ db, policy }),
    keypairs: createKeypairService({ db, policy, quota: async (ctx) => (ctx.scope.kind === 'project' ? (await quotas.limitsOf(ctx.scope.project.id)).key_pairs : QUOTA_DEFAULTS.key_pairs) }),
    quotas,
    isAdmin: (ctx: AuthContext) => policy.check('context_is_admin', ctx.credentials, {}),
    /** First start of a deployment: the default flavors. */
    seed: () => seedDefaultFlavors(db),
  };
}

export type ComputeService = ReturnType<typeof createComputeService>;
