// The compute service's domain types (camelCase), shared by its store, service and views.

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
