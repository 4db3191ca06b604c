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

export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly userId: string;
  readonly host: string | null;
  readonly availabilityZone: string | null;
  readonly flavor: InstanceFlavor;
  readonly imageId: string | null;
  readonly keyName: string | null;
  readonly keyData: string | null;
  readonly userData: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly hostname: string;
  readonly vmState: VmState;
  readonly taskState: TaskState | null;
  readonly powerState: number;
  readonly lockedBy: string | null;
  readonly fault: { readonly code: number; readonly message: string; readonly created: number } | null;
  readonly launchedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Resources an instance holds on a host. */
export interface Allocation {
  readonly instanceId: string;
  readonly host: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
}
