/**
 * The publisher API: create a collection, sign and unsign tags, delegate, move to hashed bins,
 * approve pending changes, set the immutability policy, rotate keys and change the root.
 *
 * A thin facade: each job lives in its own module under publishing/ (and root-changes.ts for key
 * rotation and root changes). Every change starts from verified metadata and goes through one
 * publish path, publishing/change-role.ts.
 */
import type { KeyAlgorithm } from '@tagtrust/keys';
import { parseGun } from '@tagtrust/shared';
import type { WithdrawResult } from '@tagtrust/shared';
import type { DelegationChangeOptions, DelegationListing, DelegationSpec } from './delegations.js';
import { generateSignerKey } from './key-admin.js';
import type { GeneratedKey } from './key-admin.js';
import type { PendingView } from './pending.js';
import { RootChanges } from './root-changes.js';
import type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';
import { approvePending, listPending, withdrawPending } from './publishing/approvals.js';
import type { PublisherContext } from './publishing/context.js';
import { publisherContext } from './publishing/context.js';
import { addDelegation, listDelegations, removeDelegation, removeDelegationKey } from './publishing/delegation-ops.js';
import { initCollection } from './publishing/init.js';
import { moveToBins } from './publishing/move-to-bins.js';
import { readImmutablePolicy, setImmutablePolicy } from './publishing/policy.js';
import { signTag, signTags, unsignTag } from './publishing/tags.js';
import { publishStaged } from './staging/publish-staged.js';
import type { StagedPublishResult } from './staging/publish-staged.js';
import type {
  ApproveOptions,
  ApproveResult,
  BinsOptions,
  BinsResult,
  DelegationChangeResult,
  InitOptions,
  InitResult,
  ManyResult,
  PolicyResult,
  PublishResult,
  PublisherOptions,
  RoleOptions,
  ShowChange,
  TagManifest,
  TagToSign,
} from './publishing/types.js';

export type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';
export { DEFAULT_BINS_THRESHOLD } from './publishing/types.js';
export type {
  ApproveOptions,
  ApproveResult,
  BinsOptions,
  BinsResult,
  DelegationChangeResult,
  InitOptions,
  InitResult,
  ManyResult,
  PolicyResult,
  PublishResult,
  PublisherOptions,
  RoleChangeResult,
  RoleOptions,
  ShowChange,
  TagManifest,
  TagToSign,
} from './publishing/types.js';
export { describeManifest } from './publishing/manifest-file.js';
export type { StagedPublishResult } from './staging/publish-staged.js';

export class Publisher {
  private readonly ctx: PublisherContext;
  private readonly rootChanges: RootChanges;

  constructor(options: PublisherOptions = {}) {
    this.ctx = publisherContext(options);
    const { options: resolved, keys, rootLifetimeMs, targetsLifetimeMs } = this.ctx;
    this.rootChanges = new RootChanges({ options: resolved, keys, rootLifetimeMs, targetsLifetimeMs });
  }

  /**
   * Creates a collection: new root and targets keys, root v1 and an empty targets v1 (publishing/init.ts).
   * @throws VersionConflictError when the collection exists already
   */
  init(gun: string, options: InitOptions = {}): Promise<InitResult> {
    return initCollection(this.ctx, gun, options);
  }

  /** Signs `<gun>:<tag>` -> manifest. A digest in the reference must match `manifest.digest` if both are given. */
  sign(reference: string, manifest: Partial<TagManifest> = {}, options: RoleOptions = {}): Promise<PublishResult> {
    return signTag(this.ctx, reference, manifest, options);
  }

  /**
   * Signs several tags of one collection in ONE publish (every role or hashed bin they go to at
   * once): all the tags land, or none. `options.role` applies to every tag.
   * @throws UsageError (tags of several collections, a tag given twice), SubstitutionError (a tag outside its role's paths)
   */
  signMany(tags: TagToSign[], options: RoleOptions = {}): Promise<ManyResult> {
    return signTags(this.ctx, tags, options);
  }

  /**
   * Publishes the changes staged for `gun` in this home (`tagtrust sign|unsign --stage`; staging/changelist.ts)
   * in one publish, like {@link signMany}, and drops them once the server has acknowledged it.
   */
  publishStaged(gun: string): Promise<StagedPublishResult> {
    return publishStaged(this.ctx, gun);
  }

  /** Removes the signed mapping of `<gun>:<tag>`. @throws NotSignedError when it is not signed */
  unsign(reference: string, options: RoleOptions = {}): Promise<PublishResult> {
    return unsignTag(this.ctx, reference, options);
  }

  /**
   * Sets the signed immutability policy of a collection (docs/immutability.md); dropping patterns
   * needs the root keys (publishing/policy.ts).
   * @throws InvalidInputError for a bad pattern; UsageError when dropping patterns without the root keys
   */
  setImmutablePolicy(gun: string, patterns: string[]): Promise<PolicyResult> {
    return setImmutablePolicy(this.ctx, this.rootChanges, gun, patterns);
  }

  /** The verified immutability policy of a collection (its tag patterns; empty when it has none). */
  immutablePolicy(gun: string): Promise<string[]> {
    return readImmutablePolicy(this.ctx, gun);
  }

  /** Rotates a role's key and publishes root N+1 (see RootChanges.rotateKey). */
  rotateKey(gun: string, role: RotatableRole, options: Omit<RootChangeOptions, 'rotate'> = {}): Promise<RootChangeResult> {
    return this.rootChanges.rotateKey(gun, role, options);
  }

  /** Writes root N+1 as a proposal file for other root key holders (see RootChanges.prepareRoot). */
  prepareRoot(gun: string, outFile: string, options: RootChangeOptions = {}): Promise<RootChangeResult> {
    return this.rootChanges.prepareRoot(gun, outFile, options);
  }

  /** Adds this home's root key signatures to a proposal file (see RootChanges.signRootProposal). */
  signRootProposal(file: string): Promise<SignedProposal> {
    return this.rootChanges.signRootProposal(file);
  }

  /** Publishes a proposal once its thresholds are met (see RootChanges.publishRootProposal). */
  publishRootProposal(file: string): Promise<PublishedProposal> {
    return this.rootChanges.publishRootProposal(file);
  }

  /**
   * Delegates `role` to the given signers' keys, threshold and path patterns; on a delegated role,
   * adds the keys and paths (or with `replace`, replaces them). `show` sees the change before it is published.
   */
  addDelegation(gun: string, role: string, spec: DelegationSpec, options: DelegationChangeOptions & ShowChange = {}): Promise<DelegationChangeResult> {
    return addDelegation(this.ctx, gun, role, spec, options);
  }

  /** Removes the delegation of `role`: tags it signed stop resolving at once. Signed by the delegator. */
  removeDelegation(gun: string, role: string, options: ShowChange = {}): Promise<DelegationChangeResult> {
    return removeDelegation(this.ctx, gun, role, options);
  }

  /** Revokes one signer key of `role` (key ID or its prefix). Tags signed only with it stop resolving. */
  removeDelegationKey(gun: string, role: string, keyId: string, options: DelegationChangeOptions & ShowChange = {}): Promise<DelegationChangeResult> {
    return removeDelegationKey(this.ctx, gun, role, keyId, options);
  }

  /** The delegated roles of a collection (verified), pre-order. */
  listDelegations(gun: string): Promise<DelegationListing[]> {
    return listDelegations(this.ctx, gun);
  }

  /** A new signing key for a delegation (kept encrypted in this home); give its public half to the collection owner. */
  generateKey(name: string, algorithm?: KeyAlgorithm): Promise<GeneratedKey> {
    return generateSignerKey(this.ctx.keys, name, algorithm);
  }

  /**
   * Moves a collection into hashed bins (TAP 15 succinct_roles; docs/delegations.md, "Hashed
   * bins"), or re-bins a binned one into another layout: the top-level targets delegates
   * 2^bit_length bins `bins-<hex>` to one bin key, and every tag moves into its bin, in one atomic
   * publish (targets and every bin of the new layout), so every tag keeps resolving. Bins of an
   * older layout stay listed in the snapshot (TUF clients refuse a snapshot that drops a file) but
   * are no longer delegated. Afterwards `sign`/`unsign` without a role re-sign only the tag's bin.
   * @param options.bins how many bins, a power of two (default: about 500 tags per bin, 16 to 1,024
   *   bins; on a binned collection with `newKey`, its current layout)
   * @throws UsageError when the collection already uses that layout, delegates explicit roles (TUF
   *   allows no explicit delegations beside succinct ones), or its targets role needs several signatures
   */
  enableBins(gun: string, options: BinsOptions = {}): Promise<BinsResult> {
    return moveToBins(this.ctx, parseGun(gun), options);
  }

  /** The pending changes of a collection, each verified against the trusted current state of its role. */
  listPending(gun: string): Promise<PendingView[]> {
    return listPending(this.ctx, gun);
  }

  /**
   * Verifies, shows to `review`, signs and sends this home's signature for the pending change of
   * `role` (publishing/approvals.ts); the server publishes it when the threshold is met.
   * @throws NotFoundError, UsageError (several: pass id), VersionConflictError (stale), KeyNotFoundError
   */
  approve(gun: string, role: string, options: ApproveOptions = {}): Promise<ApproveResult> {
    return approvePending(this.ctx, gun, role, options);
  }

  /** Withdraws a pending change (its proposer's token or an admin token). @throws UsageError, NotFoundError, ForbiddenError */
  withdrawPending(gun: string, id: string): Promise<WithdrawResult> {
    return withdrawPending(this.ctx, gun, id);
  }
}
