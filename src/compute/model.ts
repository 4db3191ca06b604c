// The compute service's domain types (camelCase), shared by its store, service and views.
import type { TaskState, VmState } from './states.ts';
import type { FlavorSpec } from './agent/virt/driver.ts';

export interface Flavor {
  readonly id: string;
  readonly name: string;
  readonly ramMb: number;
  readonly vcpus: number;
  readonly diskGb: number;
  readonly ephemeralGb: number;
  readonly swapMb: number;
  readonly rxtxFactor: number;
  readonly isPublic: boolean;
  readonly disabled: boolean;
  readonly description: string | null;
  readonly extraSpecs: Readonly<Record<string, string>>;
  readonly createdAt: number;
}

export type NewFlavor = Omit<Flavor, 'extraSpecs' | 'createdAt' | 'disabled'>;

export const KEYPAIR_TYPES = ['ssh', 'x509'] as const;
export type KeypairType = (typeof KEYPAIR_TYPES)[number];

export interface Keypair {
  readonly userId: string;
  readonly name: string;
  readonly type: KeypairType;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly createdAt: number;
}

/** What an agent reports about its host (bus payload, camelCase inside the program). */
export interface HostReport {
  readonly host: string;
  readonly hypervisorType: string;
  readonly hypervisorVersion: number;
  readonly cpuInfo: string;
  readonly hostIp: string | null;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
  readonly agentVersion: string;
  /** Where the host's console proxy is reached (its base URL), or why it has none. Absent: none. */
  readonly console?: { readonly url: string | null; readonly note: string | null };
  /** The allocation ratios the host's own configuration sets; absent ones are the cloud's defaults. */
  readonly ratios?: { readonly cpu?: number; readonly ram?: number; readonly disk?: number };
}

/** A hypervisor host as its agent reported it, with what the cloud adds: ids, ratios, zone, service state. */
export interface ComputeHost extends HostReport {
  readonly hypervisorId: string;
  readonly serviceId: string;
  readonly cpuAllocationRatio: number;
  readonly ramAllocationRatio: number;
  readonly diskAllocationRatio: number;
  readonly availabilityZone: string;
  readonly enabled: boolean;
  readonly disabledReason: string | null;
  readonly forcedDown: boolean;
  readonly generation: number;
  readonly lastSeen: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The flavor an instance was built with, copied onto it (flavors may later change or go): what the
 * virt driver needs of it, plus its id and name. */
export interface InstanceFlavor extends FlavorSpec {
  readonly id: string;
  readonly name: string;
}

/** The copy of a flavor an instance keeps (a later change to the flavor does not change it). */
export const instanceFlavorOf = (f: Flavor): InstanceFlavor => ({
  id: f.id,
  name: f.name,
  vcpus: f.vcpus,
  memoryMb: f.ramMb,
  rootGb: f.diskGb,
  ephemeralGb: f.ephemeralGb,
  swapMb: f.swapMb,
  extraSpecs: f.extraSpecs,
});

/** The networks asked for at create: Nova's "none" and "auto", or explicit networks/ports. */
export type RequestedNetworks =
  | 'none'
  | 'auto'
  | readonly {
      readonly uuid?: string;
      readonly port?: string;
      readonly fixedIp?: string;
      readonly tag?: string;
    }[];

/** What the scheduler needs of a build, kept on the instance for retries, resizes and unshelves. */
export interface SchedulingRequest {
  /** The zone the user asked for (null: any), with `host`/`node` an admin may force (zone:host). */
  readonly availabilityZone: string | null;
  readonly forcedHost: string | null;
  readonly groupId: string | null;
  readonly sameHost: readonly string[];
  readonly differentHost: readonly string[];
  readonly imageProperties: Readonly<Record<string, string>>;
  /** Hosts a build already failed on; a retry avoids them. */
  readonly tried: readonly string[];
}

/** A resize (or cold migration) between its start and its confirm or revert, or a live migration under way. */
export interface Migration {
  /** Absent in records from before migrations: a resize (in place). 'migration': a cold migration. */
  readonly kind?: 'resize' | 'live-migration' | 'migration';
  readonly sourceHost: string;
  readonly destHost: string;
  readonly oldFlavor: InstanceFlavor;
  readonly newFlavor: InstanceFlavor;
  /** A cold migration: whether the instance runs at the end (it was active), and again after a revert. */
  readonly powerOn?: boolean;
}

export interface InstanceFault {
  readonly code: number;
  readonly message: string;
  readonly details: string;
  readonly created: number;
}

export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly projectId: string;
  readonly userId: string;
  readonly host: string | null;
  readonly availabilityZone: string | null;
  readonly flavor: InstanceFlavor;
  readonly imageId: string | null;
  readonly kernelId: string | null;
  readonly ramdiskId: string | null;
  readonly keyName: string | null;
  readonly keyData: string | null;
  readonly userData: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly hostname: string;
  readonly reservationId: string;
  readonly launchIndex: number;
  readonly configDrive: boolean;
  readonly accessIpv4: string | null;
  readonly accessIpv6: string | null;
  readonly securityGroups: readonly string[];
  readonly requestedNetworks: RequestedNetworks;
  readonly request: SchedulingRequest;
  readonly migration: Migration | null;
  readonly vmState: VmState;
  readonly taskState: TaskState | null;
  readonly powerState: number;
  readonly lockedBy: string | null;
  readonly lockedReason: string | null;
  readonly fault: InstanceFault | null;
  /** While shelved: the image holding its root disk, which unshelve boots from. */
  readonly shelvedImageId: string | null;
  /** 0-100 through the current task as its host reports it (Nova's progress); null: none reported. */
  readonly progress: number | null;
  readonly launchedAt: number | null;
  readonly terminatedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deletedAt: number | null;
}

/** Resources an instance holds on a host. */
export interface Allocation {
  readonly instanceId: string;
  readonly host: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
}

/** What the scheduler's filters and weighers see of one host (after Nova's HostState); the store's
 * schedulableHosts builds it. */
export interface HostState {
  readonly host: string;
  readonly availabilityZone: string;
  readonly enabled: boolean;
  readonly up: boolean;
  readonly hypervisorType: string;
  readonly capacity: { readonly vcpus: number; readonly memoryMb: number; readonly diskGb: number };
  readonly used: { readonly vcpus: number; readonly memoryMb: number; readonly diskGb: number };
  /** Recent builds that failed on this host (BuildFailureWeigher). */
  readonly failedBuilds: number;
  /** Metadata of the host aggregates the host is in (AggregateInstanceExtraSpecsFilter). */
  readonly aggregateMetadata: Readonly<Record<string, readonly string[]>>;
}

/** A server group's placement policy. */
export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
