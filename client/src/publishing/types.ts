/** Options and results of the Publisher API (publisher.ts) and its jobs. */
import type { KeyAlgorithm } from '@tagtrust/keys';
import type { PendingStatus, TufKey } from '@tagtrust/shared';
import type { DelegationChange } from '../delegation-change.js';
import type { KeyStore, PassphraseProvider } from '../keystore.js';
import type { ClientOptions } from '../options.js';
import type { PendingView } from '../pending.js';

export interface PublisherOptions extends ClientOptions {
  /** Where passphrases come from (default: TAGTRUST_<ROLE>_PASSPHRASE environment variables). */
  passphrases?: PassphraseProvider;
  /** The key store for `home` to use (the CLI passes one it already started unlocking a key in); default: a new one. */
  keyStore?: KeyStore;
  /** Lifetime of signed targets, in ms (default 90 days). */
  targetsLifetimeMs?: number;
  /** Lifetime of a new root, in ms (default 365 days). */
  rootLifetimeMs?: number;
  /** How many times a publish is retried after losing a race to another publisher (default 50). */
  maxAttempts?: number;
  /**
   * Hashed bins threshold: when signing a new tag (without a role) would make the top-level targets
   * of a flat collection hold more than this many tags, the collection is first moved to hashed bins
   * (see {@link Publisher.enableBins}; needs TAGTRUST_BINS_PASSPHRASE for the new bin key). Default
   * {@link DEFAULT_BINS_THRESHOLD}; 0 turns it off.
   */
  binsThreshold?: number;
}

/** Tags a flat collection holds before `sign` moves it to hashed bins. */
export const DEFAULT_BINS_THRESHOLD = 1000;

export interface InitOptions {
  algorithm?: KeyAlgorithm;
  /** How many root keys to create (default 1); all are kept in this home until you move them. */
  rootKeys?: number;
  /** How many root keys must sign a new root (default 1). */
  rootThreshold?: number;
  /**
   * Reuse this home's existing root key (full ID or unique prefix) instead of creating one, so that
   * collections share a root key and pullers can pin them all at once by prefix.
   */
  rootKeyId?: string;
}

export interface InitResult {
  gun: string;
  rootKeyId: string;
  /** Every root key ID (more than one with `rootKeys`). */
  rootKeyIds: string[];
  rootThreshold: number;
  targetsKeyId: string;
  keyFiles: string[];
}

export interface TagManifest {
  /** `sha256:<hex>` of the manifest. */
  digest: string;
  /** Manifest size in bytes. */
  size: number;
  mediaType?: string;
}

export interface PublishResult {
  reference: string;
  digest?: string;
  /** The role that holds the change: `targets` or a delegated role. */
  role: string;
  /** The version of that role that now holds the change. */
  targetsVersion: number;
  /** Publish attempts it took (more than 1 when other publishers got there first). */
  attempts: number;
  /** Set when the role needs more signatures than this home holds: the change awaits approvals. */
  pending?: PendingStatus;
}

/** One tag for `signMany`: the reference and its manifest (the digest may be in the reference). */
export interface TagToSign extends Partial<TagManifest> {
  /** `<gun>:<tag>` or `<gun>:<tag>@sha256:<hex>`. */
  reference: string;
}

/** What one publish of several tags changed. */
export interface ManyResult {
  gun: string;
  /** Every tag, in the order given, with the role (or hashed bin) that now holds it. */
  tags: PublishResult[];
  /** Every role the publish changed (several with hashed bins or mixed roles). */
  roles: RoleChangeResult[];
  /** Publish attempts it took. */
  attempts: number;
}

export interface RoleOptions {
  /** Sign into this role instead of the top-level targets, e.g. `targets/ci`. */
  role?: string;
}

/** Called with a delegation change before it is signed and published. */
export interface ShowChange {
  show?: (change: DelegationChange) => void;
}

export interface DelegationChangeResult extends RoleChangeResult {
  change: DelegationChange;
}

export interface RoleChangeResult {
  role: string;
  /** The version of the changed role that now holds (or, when pending, will hold) the change. */
  version: number;
  attempts: number;
  /** Set when the change awaits approvals (`tagtrust approve`) instead of being published. */
  pending?: PendingStatus;
}

export interface BinsOptions {
  /** How many hashed bins, a power of two from 2 to 16,384 (default: about 500 tags per bin, 16 to 1,024 bins). */
  bins?: number;
  /**
   * The bins' public key when another home signs them (default: a new bin key kept in this home).
   * Only for a first move of a collection without tags: existing tags and bins are re-signed here.
   */
  key?: TufKey;
  /** Sign the bins with a new bin key even when this home holds the current one (rotation after a compromise). */
  newKey?: boolean;
}

export interface BinsResult {
  gun: string;
  bins: number;
  /** Tags moved from the top-level targets into their bins. */
  moved: number;
  keyId: string;
  /** Where the new bin key is (absent when `key` was given). */
  keyFile?: string;
  targetsVersion: number;
  attempts: number;
}

export interface ApproveOptions {
  /** Which pending change, when the role has several. */
  id?: string;
  /** Called with the verified change before signing; throw to refuse. */
  review?: (view: PendingView) => void | Promise<void>;
}

export interface ApproveResult {
  view: PendingView;
  /** True when this approval met the threshold and the change is published. */
  published: boolean;
  signedBy: string[];
  threshold: number;
}

/** What `setImmutablePolicy` published. */
export interface PolicyResult {
  gun: string;
  immutable: string[];
  /** Patterns the new policy dropped (approved by a new root). */
  dropped: string[];
  targetsVersion?: number;
  rootVersion?: number;
}
