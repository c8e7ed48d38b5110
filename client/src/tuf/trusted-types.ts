/** Types shared by the update of a collection, its guard, its first-root bootstrap and its callers. */
import type { SeenImmutableTags } from '../audit/seen-tags.js';
import type { TargetFile } from 'tuf-js';
import type { Metadata, RootSigned, SnapshotSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import type { TransportOptions } from '../http/transport.js';
import type { TrustedDelegations } from './trusted-delegations.js';

/** The verified top-level metadata of a collection. */
export interface TrustedMetadata {
  root: Metadata<RootSigned>;
  timestamp: Metadata<TimestampSigned>;
  snapshot: Metadata<SnapshotSigned>;
  targets: Metadata<TargetsSigned>;
}

/** The puller's trust policy for one update. */
export interface TrustPolicy {
  /** Trust a first root from the server when nothing is pinned (default true). */
  tofu?: boolean;
  /** Refuse a timestamp signed longer ago than this, in ms (default: expiry only). */
  maxAgeMs?: number;
  /** Most new roots one update accepts (default 256). */
  maxRootRotations?: number;
}

export interface CollectionSession {
  gun: string;
  metadata: TrustedMetadata;
  /** Looks a target up through the verified delegation tree. */
  getTargetInfo(name: string): Promise<TargetFile | undefined>;
  /** Every delegated role, downloaded and verified on first call (invalid roles are recorded, not thrown). */
  delegations(): Promise<TrustedDelegations>;
  /** Only the delegated roles a lookup of `name` reaches (e.g. one hashed bin), downloaded and verified. */
  delegationsFor(name: string): Promise<TrustedDelegations>;
  /** The immutable tags this client has seen (client/src/audit/seen-tags.ts); saved with the trusted state. */
  immutable: SeenImmutableTags;
}

export interface UpdateContext {
  home: string;
  server: string;
  gun: string;
  deadline: Deadline;
  warn: (message: string) => void;
  /** A root document to trust when the collection has no trusted state yet (instead of TOFU). */
  rootFile?: string;
  policy?: TrustPolicy;
  /** Bearer token for downloads, for servers that require a pull scope (TAGTRUST_TOKEN). */
  token?: string;
  /** Connection settings (CA) for downloads. */
  transport?: TransportOptions;
  /** `server` is a static mirror (`--mirror`), not a tagtrust server: its error answers are its web server's. */
  mirror?: boolean;
}
