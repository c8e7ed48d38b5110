/**
 * The TUF 1.0 metadata JSON shapes tagtrust reads and writes, as plain data.
 * tagtrust validates and signs these objects directly (see `metadata-validate.ts`) rather than through
 * the @tufjs/models classes on hot paths: their toJSON/fromJSON are quadratic in the number of entries.
 */

export const SPEC_VERSION = '1.0.31';

export type TopLevelRoleName = 'root' | 'targets' | 'snapshot' | 'timestamp';
export const TOP_LEVEL_ROLES: readonly TopLevelRoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

/** A signing scheme tagtrust creates and verifies. */
export type KeyScheme = 'ed25519' | 'ecdsa-sha2-nistp256' | 'rsassa-pss-sha256';

/** Public key in TUF key JSON. ed25519 keys carry 64 hex chars; ECDSA and RSA keys carry PEM SPKI. */
export interface TufKey {
  keytype: string;
  scheme: string;
  keyval: { public: string };
}

export interface Signature {
  keyid: string;
  sig: string;
}

export interface RoleKeys {
  keyids: string[];
  threshold: number;
}

interface SignedBase<T extends string> {
  _type: T;
  spec_version: string;
  version: number;
  expires: string;
}

export interface RootSigned extends SignedBase<'root'> {
  consistent_snapshot: boolean;
  keys: Record<string, TufKey>;
  roles: Record<TopLevelRoleName, RoleKeys>;
  /** A root-approved weakening of the immutability policy (shared/src/immutability.ts). */
  'x-tagtrust-policy-change'?: { targets: number; immutable: string[] };
}

export interface TargetFileInfo {
  length: number;
  hashes: Record<string, string>;
  /** tagtrust publishes strings and integers (`mediaType`); metadata of other repositories may hold any JSON. */
  custom?: Record<string, unknown>;
}

export interface DelegatedRoleInfo extends RoleKeys {
  name: string;
  terminating: boolean;
  paths?: string[];
  path_hash_prefixes?: string[];
}

/** TAP 15 hashed bins: 2^bit_length roles `<name_prefix>-<hex>` (see succinct-roles.ts). */
export interface SuccinctRolesInfo extends RoleKeys {
  bit_length: number;
  name_prefix: string;
}

/** Exactly one of `roles` and `succinct_roles`. */
export interface Delegations {
  keys: Record<string, TufKey>;
  roles?: DelegatedRoleInfo[];
  succinct_roles?: SuccinctRolesInfo;
}

export interface TargetsSigned extends SignedBase<'targets'> {
  targets: Record<string, TargetFileInfo>;
  delegations?: Delegations;
  /** Top-level targets only: tag patterns that never move once signed (shared/src/immutability.ts). */
  'x-tagtrust-immutable'?: string[];
}

export interface MetaFileInfo {
  version: number;
  length?: number;
  hashes?: Record<string, string>;
}

export interface SnapshotSigned extends SignedBase<'snapshot'> {
  meta: Record<string, MetaFileInfo>;
}

/**
 * Signed field (an extension: TUF 1.0 allows extra fields and verifies them with the rest) in which the
 * server records when it signed a timestamp, so pullers can enforce a `maxAge` tighter than the expiry.
 */
export const TIMESTAMP_SIGNED_AT = 'x-tagtrust-signed-at';

export interface TimestampSigned extends SignedBase<'timestamp'> {
  meta: { 'snapshot.json': MetaFileInfo };
  /** When the server signed this timestamp (UTC, whole seconds); see TIMESTAMP_SIGNED_AT. */
  'x-tagtrust-signed-at'?: string;
  /** The tag transparency log's tree head when signed (shared/src/tag-log/). */
  'x-tagtrust-log'?: { size: number; root_hash: string };
}

export type AnySigned = RootSigned | TargetsSigned | SnapshotSigned | TimestampSigned;

/** A metadata file: the signed portion and the signatures over its canonical JSON. */
export interface Metadata<T extends AnySigned = AnySigned> {
  signed: T;
  signatures: Signature[];
}
