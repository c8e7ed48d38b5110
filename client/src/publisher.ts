/**
 * The publisher API: create a collection, sign and unsign tags, rotate keys and change the root.
 * Key rotation and root changes live in root-changes.ts; Publisher exposes them.
 *
 * Every change starts from verified metadata (a full TUF update), never from what the server
 * merely says. Publishers of one collection take turns through the server's publish lease
 * (publish-lease.ts), so a change normally lands at its first attempt; when another publisher got
 * there first anyway (409), the change is re-read, re-applied, re-signed and retried, so concurrent
 * signers lose no tag.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { KeyAlgorithm, KeyPair } from '@tagtrust/keys';
import { addSignature, generateKeyPair, keyIdOf } from '@tagtrust/keys';
import {
  DEFAULT_LIFETIMES,
  InvalidInputError,
  KeyNotFoundError,
  NotFoundError,
  NotSignedError,
  SubstitutionError,
  TimeoutError,
  UsageError,
  VersionConflictError,
  buildRoot,
  IMMUTABLE_FIELD,
  MAX_IMMUTABLE_PATTERNS,
  buildTargets,
  carryPolicy,
  immutablePatternProblem,
  immutablePolicy,
  expiresAfter,
  parseDigest,
  parseGun,
  parseTaggedReference,
  delegationChain,
  delegatorOf,
  binRoleForTarget,
  binRoleNames,
  isBinDelegation,
  isBinRoleName,
  isDelegatedTarget,
  describeDelegatedPaths,
  isTargetInCollection,
  targetName,
} from '@tagtrust/shared';
import type { Metadata, PendingStatus, RoleDelegation, RoleKeys, SuccinctRolesInfo, TargetFileInfo, TargetsSigned, TufKey, WithdrawResult } from '@tagtrust/shared';
import type { PendingView } from './pending.js';
import { describeChange } from './pending.js';
import type { DelegationChangeOptions, DelegationListing, DelegationSpec } from './delegations.js';
import type { DelegationChange } from './delegation-change.js';
import { delegationChange } from './delegation-change.js';
import { checkRoleName, withDelegation, withoutDelegation, withoutDelegationKey } from './delegations.js';
import { Deadline } from './deadline.js';
import { withPublishLease } from './publish-lease.js';
import type { PassphraseProvider } from './keystore.js';
import { KeyStore, environmentPassphrases } from './keystore.js';
import { generateSignerKey } from './key-admin.js';
import type { GeneratedKey } from './key-admin.js';
import type { ClientOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options.js';
import { ServerApi } from './server-api.js';
import { RootChanges } from './root-changes.js';
import type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';
import type { CollectionSession } from './tuf/trusted-collection.js';
import { recordPublishedTargets, trustRoot, withTrustedCollection } from './tuf/trusted-collection.js';
import { signingKeyHint } from './signing-key-hint.js';
import { signBuilt } from './sign-built.js';
import { BIN_KEY_NAME, BIN_NAME_PREFIX, MAX_BIN_ENTRIES, binRoleFor, bitLengthOf, defaultBitLength, isBinRole, legacyBins, succinctBins } from './bins.js';

export type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';

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


/** Digest and size of a manifest file, so you sign exactly the bytes you built. */
export async function describeManifest(path: string): Promise<TagManifest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InvalidInputError(`cannot read manifest ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const mediaType = manifestMediaType(bytes);
  return {
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    ...(mediaType ? { mediaType } : {}),
  };
}

function manifestMediaType(bytes: Buffer): string | undefined {
  try {
    const mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof mediaType === 'string' ? mediaType : undefined;
  } catch {
    return undefined;
  }
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

export class Publisher {
  private readonly options: ResolvedOptions;
  private readonly keys: KeyStore;
  private readonly targetsLifetimeMs: number;
  private readonly rootLifetimeMs: number;
  private readonly maxAttempts: number;
  private readonly binsThreshold: number;
  private readonly rootChanges: RootChanges;

  constructor(options: PublisherOptions = {}) {
    this.options = resolveOptions(options);
    this.keys = options.keyStore ?? new KeyStore(this.options.home, options.passphrases ?? environmentPassphrases, this.options.warn);
    this.targetsLifetimeMs = options.targetsLifetimeMs ?? DEFAULT_LIFETIMES.targets;
    this.rootLifetimeMs = options.rootLifetimeMs ?? DEFAULT_LIFETIMES.root;
    this.maxAttempts = options.maxAttempts ?? 50;
    this.binsThreshold = options.binsThreshold ?? DEFAULT_BINS_THRESHOLD;
    this.rootChanges = new RootChanges({ options: this.options, keys: this.keys, rootLifetimeMs: this.rootLifetimeMs, targetsLifetimeMs: this.targetsLifetimeMs });
  }

  /**
   * Creates a collection: new root and targets keys (kept encrypted in this home), root v1 listing
   * the server's online snapshot/timestamp keys, and an empty targets v1.
   * @throws VersionConflictError when the collection exists already
   */
  async init(gunInput: string, options: InitOptions = {}): Promise<InitResult> {
    const gun = parseGun(gunInput);
    const rootKeys = options.rootKeys ?? 1;
    const rootThreshold = options.rootThreshold ?? 1;
    if (!Number.isInteger(rootKeys) || rootKeys < 1 || rootKeys > 10) throw new UsageError(`--root-keys must be 1 to 10, got ${rootKeys}`);
    if (options.rootKeyId && rootKeys !== 1) throw new UsageError('--root-key reuses one root key: it cannot be combined with --root-keys');
    if (!Number.isInteger(rootThreshold) || rootThreshold < 1 || rootThreshold > rootKeys) {
      throw new UsageError(`--root-threshold must be 1 to ${rootKeys} (the number of root keys), got ${rootThreshold}`);
    }
    const deadline = new Deadline(this.options.timeoutMs, `initialising ${gun}`);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca });
      // The online keys need push rights, so a token without scope is refused before anything else.
      const [snapshotKey, timestampKey] = await Promise.all([api.getOnlineKey(gun, 'snapshot'), api.getOnlineKey(gun, 'timestamp')]);
      // Refuse before creating any key file: an existing collection keeps its keys.
      const existing = await api.latestRootVersion(gun);
      if (existing !== undefined) throw alreadyExists(gun, existing);
      const rootPairs = options.rootKeyId
        ? [await this.keys.unlock([await this.keys.resolveKeyId(options.rootKeyId)], 'root', gun)]
        : await Promise.all(Array.from({ length: rootKeys }, () => generateKeyPair(options.algorithm)));
      const targetsPair = await generateKeyPair(options.algorithm);
      const keyFiles: string[] = [];
      if (!options.rootKeyId) for (const pair of rootPairs) keyFiles.push(await this.keys.add(pair, { role: 'root', gun }));
      keyFiles.push(await this.keys.add(targetsPair, { role: 'targets', gun }));
      const now = new Date();
      const one = (key: typeof snapshotKey) => ({ keys: { [keyIdOf(key)]: key }, threshold: 1 });
      const root = signBuilt(
        buildRoot({
          version: 1,
          expires: expiresAfter(now, this.rootLifetimeMs),
          keys: {
            root: { keys: Object.fromEntries(rootPairs.map((p) => [p.keyId, p.publicKey])), threshold: rootThreshold },
            targets: one(targetsPair.publicKey),
            snapshot: one(snapshotKey),
            timestamp: one(timestampKey),
          },
        }),
        rootPairs,
      );
      const targets = signBuilt(buildTargets(1, expiresAfter(now, this.targetsLifetimeMs)), [targetsPair]);
      try {
        await api.publish(gun, { root, targets });
      } catch (err) {
        if (err instanceof VersionConflictError) throw alreadyExists(gun, err.currentVersion, err);
        throw err;
      }
      await trustRoot(this.options.home, gun, root);
      const rootKeyIds = rootPairs.map((p) => p.keyId);
      return { gun, rootKeyId: rootKeyIds[0]!, rootKeyIds, rootThreshold, targetsKeyId: targetsPair.keyId, keyFiles };
    } finally {
      deadline.dispose();
    }
  }

  /** Signs `<gun>:<tag>` -> manifest. A digest in the reference must match `manifest.digest` if both are given. */
  async sign(reference: string, manifest: Partial<TagManifest> = {}, options: RoleOptions = {}): Promise<PublishResult> {
    const parsed = parseTaggedReference(reference);
    const digest = parseDigest(manifest.digest ?? parsed.digest ?? '');
    if (parsed.digest && manifest.digest && parsed.digest !== manifest.digest) {
      throw new InvalidInputError(`the reference says ${parsed.digest} but the manifest is ${manifest.digest}: sign one digest`);
    }
    const size = manifest.size;
    if (size === undefined || !Number.isSafeInteger(size) || size < 1) {
      throw new InvalidInputError(`signing ${reference} needs the manifest size in bytes (--size N, or --manifest FILE), got ${size ?? 'none'}`);
    }
    const name = targetName(parsed.gun, parsed.tag);
    const entry: TargetFileInfo = {
      length: size,
      hashes: { sha256: digest.slice('sha256:'.length) },
      ...(manifest.mediaType ? { custom: { mediaType: manifest.mediaType } } : {}),
    };
    const result = await this.changeRole(
      parsed.gun,
      options.role ?? 'targets',
      `signing ${name}`,
      (signed) => ({ ...signed, targets: { ...signed.targets, [name]: entry } }),
      [name],
      options.role === undefined ? name : undefined,
    );
    return { reference: name, digest, role: result.role, targetsVersion: result.version, attempts: result.attempts, ...(result.pending ? { pending: result.pending } : {}) };
  }

  /** Removes the signed mapping of `<gun>:<tag>`. @throws NotSignedError when it is not signed */
  async unsign(reference: string, options: RoleOptions = {}): Promise<PublishResult> {
    const parsed = parseTaggedReference(reference);
    const name = targetName(parsed.gun, parsed.tag);
    const result = await this.changeRole(
      parsed.gun,
      options.role ?? 'targets',
      `unsigning ${name}`,
      (signed, role) => {
        if (!(name in signed.targets)) throw new NotSignedError(`${name} is not signed by ${role}, so there is nothing to remove`);
        const { [name]: _removed, ...rest } = signed.targets;
        return { ...signed, targets: rest };
      },
      [],
      options.role === undefined ? name : undefined,
    );
    return { reference: name, role: result.role, targetsVersion: result.version, attempts: result.attempts, ...(result.pending ? { pending: result.pending } : {}) };
  }

  /**
   * Sets the signed immutability policy of a collection (docs/immutability.md): tag patterns whose
   * tags never move once signed. Adding patterns is signed by the targets key; dropping any needs
   * root N+1 approving the new policy, signed by the root keys this home holds.
   * @throws InvalidInputError for a bad pattern; UsageError when dropping patterns without the root keys
   */
  async setImmutablePolicy(gunInput: string, patterns: string[]): Promise<PolicyResult> {
    const gun = parseGun(gunInput);
    const problem = patterns.map(immutablePatternProblem).find((p) => p !== undefined);
    if (problem) throw new InvalidInputError(`--immutable ${problem}`);
    if (patterns.length > MAX_IMMUTABLE_PATTERNS) throw new InvalidInputError(`at most ${MAX_IMMUTABLE_PATTERNS} immutable patterns, got ${patterns.length}`);
    const wanted = [...new Set(patterns)];
    const dropped = (await this.immutablePolicy(gun)).filter((p) => !wanted.includes(p));
    if (dropped.length > 0) {
      const result = await this.rootChanges.changePolicy(gun, wanted);
      return { gun, immutable: wanted, dropped, targetsVersion: result.published?.targets, rootVersion: result.published?.root };
    }
    const result = await this.changeRole(gun, 'targets', `setting the immutability policy of ${gun}`, (signed) => ({ ...signed, [IMMUTABLE_FIELD]: wanted }));
    return { gun, immutable: wanted, dropped, targetsVersion: result.version };
  }

  /** The verified immutability policy of a collection (its tag patterns; empty when it has none). */
  async immutablePolicy(gunInput: string): Promise<string[]> {
    const gun = parseGun(gunInput);
    const deadline = new Deadline(this.options.timeoutMs, `reading the immutability policy of ${gun}`);
    try {
      return await withTrustedCollection(this.context(gun, deadline), async (session) => immutablePolicy(session.metadata.targets.signed));
    } finally {
      deadline.dispose();
    }
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
   * Delegates `role` (`targets/<name>`, or nested `targets/<a>/<b>`) to the given signers' keys,
   * threshold and path patterns; on a delegated role, adds the keys and paths (or with `replace`,
   * replaces them). Signed by the delegator. `show` sees the change before it is published.
   */
  async addDelegation(gunInput: string, role: string, spec: DelegationSpec, options: DelegationChangeOptions & ShowChange = {}): Promise<DelegationChangeResult> {
    const gun = parseGun(gunInput);
    const delegator = checkRoleName(role);
    return this.changeDelegation(gun, delegator, role, `delegating ${role} in ${gun}`, (signed) => withDelegation(signed, delegator, role, spec, gun, options), options);
  }

  /** Removes the delegation of `role`: tags it signed stop resolving at once. Signed by the delegator. */
  async removeDelegation(gunInput: string, role: string, options: ShowChange = {}): Promise<DelegationChangeResult> {
    const gun = parseGun(gunInput);
    const delegator = checkRoleName(role);
    return this.changeDelegation(gun, delegator, role, `removing ${role} from ${gun}`, (signed) => withoutDelegation(signed, role), options);
  }

  /** Revokes one signer key of `role` (key ID or its prefix). Tags signed only with it stop resolving. */
  async removeDelegationKey(gunInput: string, role: string, keyId: string, options: DelegationChangeOptions & ShowChange = {}): Promise<DelegationChangeResult> {
    const gun = parseGun(gunInput);
    const delegator = checkRoleName(role);
    return this.changeDelegation(gun, delegator, role, `revoking key ${keyId} of ${role} in ${gun}`, (signed) => withoutDelegationKey(signed, role, keyId, options), options);
  }

  private async changeDelegation(
    gun: string,
    delegator: string,
    role: string,
    what: string,
    change: (signed: TargetsSigned) => TargetsSigned,
    { show }: ShowChange,
  ): Promise<DelegationChangeResult> {
    let described: DelegationChange = { role };
    const result = await this.changeRole(gun, delegator, what, (signed) => {
      const changed = change(signed);
      described = delegationChange(signed, changed, role);
      show?.(described);
      return changed;
    });
    return { ...result, change: described };
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
  async enableBins(gunInput: string, options: BinsOptions = {}): Promise<BinsResult> {
    return this.moveToBins(parseGun(gunInput), options);
  }

  /**
   * {@link enableBins}, and the automatic moves of `sign`.
   * @param options.onlyIfFlat refuse ("already uses hashed bins") when the collection has bins
   * @param options.minBitLength use at least this many bits; refuse ("already uses hashed bins")
   *   when the collection's succinct bins already have that many
   */
  private async moveToBins(gun: string, options: BinsOptions & { onlyIfFlat?: boolean; minBitLength?: number }): Promise<BinsResult> {
    const requested = options.bins === undefined ? undefined : bitLengthOf(options.bins);
    const deadline = new Deadline(this.options.timeoutMs, `moving ${gun} to hashed bins`);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca });
      let pair: KeyPair | undefined;
      let keyFile: string | undefined;
      for (let attempt = 1; ; attempt += 1) {
        const state = await withTrustedCollection(this.context(gun, deadline), async (session) => {
          const current = session.metadata.targets.signed;
          const succinct = succinctBins(current);
          const legacy = legacyBins(current);
          const binned = succinct !== undefined || legacy.length > 0;
          if (binned && (options.onlyIfFlat || (succinct && options.minBitLength !== undefined && succinct.bit_length >= options.minBitLength))) {
            throw new UsageError(`${gun} already uses hashed bins (${succinct ? 2 ** succinct.bit_length : legacy.length})`);
          }
          const explicit = (current.delegations?.roles ?? []).filter((r) => !legacy.includes(r));
          if (explicit.length > 0) {
            throw new UsageError(
              `${gun} delegates ${explicit.map((r) => r.name).join(', ')}: hashed bins (TUF succinct_roles) cannot sit beside explicit delegations in the top-level targets; remove them first (\`tagtrust delegation remove\`)`,
            );
          }
          // Every tag the collection signs: its bins' (all verified), then the top-level targets' (which shadow them).
          const tags: Record<string, TargetFileInfo> = {};
          if (binned) {
            const tree = await session.delegations();
            for (const { role, status } of tree.views()) {
              if (status.state === 'invalid') {
                throw new UsageError(`bin ${role} of ${gun} does not verify (${status.error.message}): re-binning would drop its tags; re-sign it first`);
              }
              if (status.state === 'trusted') Object.assign(tags, status.metadata.signed.targets);
            }
          }
          Object.assign(tags, current.targets);
          return { metadata: session.metadata, tags, succinct, oldKeyIds: succinct?.keyids ?? legacy[0]?.keyids };
        });
        const { metadata, tags } = state;
        const current = metadata.targets.signed;
        const names = Object.keys(tags);
        const bits = requested ?? (options.newKey && state.succinct ? state.succinct.bit_length : Math.max(defaultBitLength(names.length), options.minBitLength ?? 0));
        if (state.succinct?.bit_length === bits && Object.keys(current.targets).length === 0 && !options.newKey) {
          throw new UsageError(`${gun} already uses hashed bins (${2 ** bits}): give another --bins to re-bin it`);
        }
        const targetsKeys = metadata.root.signed.roles.targets;
        if (targetsKeys.threshold > 1) throw new UsageError(`the targets role of ${gun} needs ${targetsKeys.threshold} signatures: moving to bins needs a single-signature targets role`);
        if (options.key && (names.length > 0 || state.oldKeyIds)) {
          throw new UsageError(
            `${gun} ${names.length > 0 ? `has ${names.length} tags to move into bins` : 'already has bins'}: they must be signed with a bin key in this home (leave out the bin key)`,
          );
        }
        const targetsKey = await this.keys.unlock(targetsKeys.keyids, 'targets', gun);
        if (!options.key && !pair) {
          // Re-binning keeps the bin key when this home holds it; otherwise (and for a first move) a new one.
          if (state.oldKeyIds && !options.newKey) pair = await this.keys.unlock(state.oldKeyIds, BIN_KEY_NAME, gun).catch(ignoreMissingKey);
          if (!pair) {
            pair = await generateKeyPair();
            keyFile = await this.keys.add(pair, { role: BIN_KEY_NAME, name: BIN_KEY_NAME, gun });
          }
        }
        const given = options.key ?? pair!.publicKey;
        const publicKey: TufKey = { keytype: given.keytype, scheme: given.scheme, keyval: { public: given.keyval.public } };
        const keyId = keyIdOf(publicKey);
        const expires = expiresAfter(new Date(), this.targetsLifetimeMs);
        const layout: SuccinctRolesInfo = { keyids: [keyId], threshold: 1, bit_length: bits, name_prefix: BIN_NAME_PREFIX };
        const signed = carryPolicy(current, buildTargets(current.version + 1, expires, {}));
        signed.delegations = { keys: { [keyId]: publicKey }, succinct_roles: layout };
        const body: Record<string, Metadata> = { targets: signBuilt(signed, [targetsKey]) };
        if (pair) {
          // Every bin of the layout, empty ones too: a bin name an older layout used must not keep its old tags.
          const contents = new Map<string, Record<string, TargetFileInfo>>(binRoleNames(layout).map((role) => [role, {}]));
          for (const name of names) contents.get(binRoleForTarget(layout, name))![name] = tags[name]!;
          for (const [role, targets] of contents) {
            const version = (metadata.snapshot.signed.meta[`${role}.json`]?.version ?? 0) + 1;
            body[role] = signBuilt(buildTargets(version, expires, targets), [pair], role);
          }
        }
        try {
          await api.publish(gun, body);
          for (const [role, published] of Object.entries(body)) await recordPublishedTargets(this.options.home, gun, published as Metadata<TargetsSigned>, role);
          return { gun, bins: 2 ** bits, moved: names.length, keyId, ...(keyFile ? { keyFile } : {}), targetsVersion: signed.version, attempts: attempt };
        } catch (err) {
          if (!(err instanceof VersionConflictError) || attempt >= this.maxAttempts) throw err;
          await sleep(Math.random() * Math.min(200, 10 * attempt));
        }
      }
    } finally {
      deadline.dispose();
    }
  }

  /** The delegated roles of a collection (verified), pre-order. */
  async listDelegations(gunInput: string): Promise<DelegationListing[]> {
    const gun = parseGun(gunInput);
    const deadline = new Deadline(this.options.timeoutMs, `listing the delegations of ${gun}`);
    try {
      return await withTrustedCollection(this.context(gun, deadline), async (session) => {
        const tree = await session.delegations();
        return tree.views().map(({ role, delegator, info, status }) => ({
          role,
          delegator,
          keyIds: info.keyids,
          threshold: info.threshold,
          paths: isBinDelegation(info) ? [] : (info.paths ?? []),
          ...(!isBinDelegation(info) && info.path_hash_prefixes ? { pathHashPrefixes: info.path_hash_prefixes } : {}),
          ...(isBinDelegation(info) ? { bin: { index: info.bin.index, bitLength: info.bin.bitLength } } : {}),
          terminating: info.terminating,
          state: status.state,
          version: status.state === 'trusted' ? status.metadata.signed.version : (tree.snapshotEntry(role)?.version ?? 0),
          tags: status.state === 'trusted' ? Object.keys(status.metadata.signed.targets).length : 0,
          ...(status.state === 'invalid' ? { problem: status.error.message } : {}),
        }));
      });
    } finally {
      deadline.dispose();
    }
  }

  /** A new signing key for a delegation (kept encrypted in this home); give its public half to the collection owner. */
  async generateKey(name: string, algorithm?: KeyAlgorithm): Promise<GeneratedKey> {
    return generateSignerKey(this.keys, name, algorithm);
  }

  /**
   * Applies `change` to the latest verified metadata of `role`, signs it with this home's key for
   * the role and publishes; retries lost races.
   * @param names target names the change signs: checked against the role's delegated paths first
   * @param binFor when the collection uses hashed bins, change the bin of this target name instead
   *   of `role` (the top-level targets): only that bin, snapshot and timestamp change
   */
  private async changeRole(
    gun: string,
    requestedRole: string,
    what: string,
    change: (signed: TargetsSigned, role: string) => TargetsSigned,
    names: string[] = [],
    binFor?: string,
  ): Promise<RoleChangeResult> {
    const deadline = new Deadline(this.options.timeoutMs, what);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca });
      // Decrypting the signing key (scrypt, ~0.1 s) starts from the locally trusted metadata; the unlock
      // below then finds it done, or unlocks what the refresh requires.
      const early = requestedRole === 'targets' ? this.unlockFromLocalTrust(gun) : undefined;
      let autoBins = this.binsThreshold > 0;
      let attempt = 1;
      // Decrypt before taking a turn: a publisher holding the lease never waits for scrypt.
      await early;
      for (;;) {
        // One publisher at a time per collection (publish-lease.ts); moving to hashed bins takes its own turn.
        const outcome = await withPublishLease(api, gun, deadline, async (lease): Promise<{ done: RoleChangeResult } | { rebin: Parameters<Publisher['binsBeforeSigning']> }> => {
          for (; ; attempt += 1) {
            const base = await withTrustedCollection(this.context(gun, deadline), async (session) => {
              // A tag the top-level targets itself signs (with --role targets) stays there: it shadows its bin.
              const top = session.metadata.targets.signed;
              const role = (binFor !== undefined && !(binFor in top.targets) ? binRoleFor(top, binFor) : undefined) ?? requestedRole;
              const bitLength = succinctBins(top)?.bit_length ?? Math.log2(legacyBins(top).length || 1);
              return { role, bitLength, ...(await this.loadRole(session, role, names, binFor)) };
            });
            const role = base.role;
            if (autoBins && binFor !== undefined && this.binsThreshold > 0 && !(binFor in base.current.targets)) {
              const entries = Object.keys(base.current.targets).length;
              if (role === 'targets' && entries + 1 > this.binsThreshold) {
                autoBins = false;
                return { rebin: [gun, `${gun} holds ${entries} tags, over the hashed bins threshold of ${this.binsThreshold}`, { onlyIfFlat: true }] };
              } else if (isBinRole(role) && entries + 1 > MAX_BIN_ENTRIES) {
                autoBins = false;
                return { rebin: [gun, `${role} of ${gun} holds ${entries} tags, over the ${MAX_BIN_ENTRIES} a bin should hold`, { minBitLength: base.bitLength + 1 }] };
              }
            }
            if (base.invalid && attempt === 1) {
              this.options.warn(
                `${role} v${base.current.version} no longer verifies against its current keys (a key was revoked?); starting it afresh as v${base.current.version + 1}: re-sign every tag you vouch for`,
              );
            }
            const key = await this.keys.unlock(base.keys.keyids, role, gun);
            const changed = change(base.current, role);
            const signed = carryPolicy(changed, buildTargets(base.current.version + 1, expiresAfter(new Date(), this.targetsLifetimeMs), changed.targets));
            if (changed.delegations) signed.delegations = changed.delegations;
            const metadata = signBuilt(signed, [key], role);
            try {
              if (base.keys.threshold > 1) {
                // More signatures needed than this home holds: stage it for the other signers.
                const result = await api.proposePending(gun, role, metadata);
                return { done: { role, version: signed.version, attempts: attempt, ...(result.pending ? { pending: result.pending } : {}) } };
              }
              lease.releasedByPublish = (await api.publish(gun, { [role]: metadata }, lease.id)).leaseReleased === true;
              // The server stores these exact bytes: keep them as this client's copy of the role, so the
              // next refresh verifies them against the new snapshot instead of downloading them again.
              await recordPublishedTargets(this.options.home, gun, metadata, role);
              return { done: { role, version: signed.version, attempts: attempt } };
            } catch (err) {
              if (!(err instanceof VersionConflictError) || attempt >= this.maxAttempts) throw err;
              // Someone published without the lease (an older client), or this one's lease expired.
              await sleep(Math.random() * Math.min(200, 10 * attempt));
            }
          }
        }).catch((err: unknown) => {
          if (err instanceof TimeoutError && deadline.expired && attempt > 1) {
            throw deadline.contentionError(gun, `${attempt} attempts lost the race to other publishers`);
          }
          throw err;
        });
        if ('done' in outcome) return outcome.done;
        await this.binsBeforeSigning(...outcome.rebin);
        attempt += 1;
      }
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Moves a collection into (more) hashed bins before a sign; when that is not possible here
   * (targets needs several signatures, no passphrase for a bin key, explicit delegations), warns
   * and lets the sign go where it would have gone.
   * @returns true when the collection's layout changed (here, or by someone else meanwhile)
   */
  private async binsBeforeSigning(gun: string, why: string, options: { onlyIfFlat?: boolean; minBitLength?: number }): Promise<boolean> {
    try {
      const result = await this.moveToBins(gun, options);
      this.options.warn(`${why}: moved ${result.moved} tags into ${result.bins} hashed bins (bin key ${result.keyId.slice(0, 8)})`);
      return true;
    } catch (err) {
      if (err instanceof UsageError && /already uses hashed bins/.test(err.message)) return true;
      if (!(err instanceof UsageError) && !(err instanceof KeyNotFoundError)) throw err;
      this.options.warn(`${why} but could not move to hashed bins (${(err as Error).message}); signing as it is (run \`tagtrust bins enable ${gun}\`)`);
      return false;
    }
  }

  /**
   * The pending changes of a collection, each verified against the current trusted state of its
   * role and described as the tags it adds, moves and removes.
   */
  async listPending(gunInput: string): Promise<PendingView[]> {
    const gun = parseGun(gunInput);
    const deadline = new Deadline(this.options.timeoutMs, `listing the pending changes of ${gun}`);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca });
      const changes = await api.listPending(gun);
      return await withTrustedCollection(this.context(gun, deadline), async (session) => {
        const views: PendingView[] = [];
        for (const change of changes) views.push(await this.viewPending(session, change));
        return views;
      });
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Verifies the pending change of `role` against the trusted current state (it must change exactly
   * the current version, stay inside the role's paths and this collection), shows it to `review`,
   * signs it with this home's key for the role and sends the signature. The server publishes it
   * when the threshold is met.
   * @throws NotFoundError (no pending change for the role), UsageError (several: pass id),
   *   VersionConflictError (stale), KeyNotFoundError (no key of the role in this home)
   */
  async approve(gunInput: string, role: string, options: ApproveOptions = {}): Promise<ApproveResult> {
    const gun = parseGun(gunInput);
    if (role !== 'targets') checkRoleName(role);
    const deadline = new Deadline(this.options.timeoutMs, `approving ${role} of ${gun}`);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca });
      const all = (await api.listPending(gun)).filter((c) => c.role === role && (options.id === undefined || c.id === options.id));
      // Without --id, only changes that can still be published are candidates.
      const open = all.filter((c) => c.state === 'open');
      const candidates = options.id === undefined && open.length > 0 ? open : all;
      if (candidates.length === 0) {
        throw new NotFoundError(`${gun} has no pending change to ${role}${options.id ? ` with id ${options.id}` : ''}: run \`tagtrust pending list ${gun}\``);
      }
      if (candidates.length > 1) {
        throw new UsageError(`${gun} has ${candidates.length} pending changes to ${role} (${candidates.map((c) => c.id).join(', ')}): choose one with --id`);
      }
      const change = candidates[0]!;
      const outside = Object.keys(change.metadata.signed.targets).find((name) => !isTargetInCollection(name, gun));
      if (outside) throw new SubstitutionError(`pending change ${change.id} signs ${outside}, which is not a tag of ${gun}: refusing to approve it`);
      const { view, keys } = await withTrustedCollection(this.context(gun, deadline), async (session) => ({
        view: await this.viewPending(session, change),
        keys: (await this.loadRole(session, role, Object.keys(change.metadata.signed.targets))).keys,
      }));
      if (view.state !== 'open') {
        throw new VersionConflictError(role, change.baseVersion, `pending change ${change.id} to ${role} is ${view.state}: it cannot be published; propose the change again`);
      }
      await options.review?.(view);
      const key = await this.keys.unlock(keys.keyids, role, gun);
      const signature = addSignature({ signed: change.metadata.signed, signatures: [] }, key).signatures;
      const result = await api.approvePending(gun, change.id, signature);
      const status = result.pending;
      return {
        view,
        published: result.published !== undefined,
        signedBy: status?.signedBy ?? [...new Set([...change.signedBy, key.keyId])],
        threshold: status?.threshold ?? change.threshold,
      };
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Withdraws a pending change: the server deletes it, so it can no longer be approved. Allowed to
   * the token that proposed it and to admin tokens.
   * @throws UsageError (not a change id), NotFoundError, ForbiddenError
   */
  async withdrawPending(gunInput: string, id: string): Promise<WithdrawResult> {
    const gun = parseGun(gunInput);
    if (!/^[0-9a-f]{16}$/.test(id)) throw new UsageError(`"${id}" is not a pending change id (16 hex characters, as \`tagtrust pending list ${gun}\` shows)`);
    const deadline = new Deadline(this.options.timeoutMs, `withdrawing pending change ${id} of ${gun}`);
    try {
      return await new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca }).withdrawPending(gun, id);
    } finally {
      deadline.dispose();
    }
  }

  private async viewPending(session: CollectionSession, change: PendingStatus): Promise<PendingView> {
    const base = await this.loadRole(session, change.role, []).catch(() => undefined);
    const stale = !base || base.current.version !== change.metadata.signed.version - 1;
    const current = base?.current ?? buildTargets(0, change.metadata.signed.expires);
    return {
      id: change.id,
      role: change.role,
      version: change.metadata.signed.version,
      state: change.state === 'open' && stale ? 'stale' : change.state,
      signedBy: change.signedBy,
      threshold: change.threshold,
      expires: change.expires,
      ...describeChange(current, change.metadata.signed),
    };
  }

  /** The verified current state of `role` and the keys that sign it. */
  private async loadRole(
    session: CollectionSession,
    role: string,
    names: string[],
    lookup?: string,
  ): Promise<{ current: TargetsSigned; keys: RoleKeys; invalid?: boolean }> {
    if (role === 'targets') return { current: session.metadata.targets.signed, keys: session.metadata.root.signed.roles.targets };
    if (!isBinRoleName(role)) checkRoleName(role);
    // A hashed bin: load only the roles a lookup of the name reaches (that bin), not every bin.
    const tree = isBinRole(role) && lookup !== undefined ? await session.delegationsFor(lookup) : await session.delegations();
    const chain: RoleDelegation[] = [];
    for (const name of [...delegationChain(role).slice(1), role]) {
      const info = tree.trusted(delegatorOf(name)) ? tree.delegation(name) : undefined;
      if (!info) throw new NotFoundError(`${name} is not delegated in ${session.gun}: ask the collection owner to run \`tagtrust delegation add ${session.gun} ${name} ...\``);
      chain.push(info);
    }
    for (const name of names) {
      const outside = chain.find((info) => !isDelegatedTarget(name, info));
      if (outside) {
        throw new SubstitutionError(`${role} may not sign ${name}: it is outside the paths delegated to ${outside.name} (${describeDelegatedPaths(outside)})`);
      }
    }
    const status = tree.status(role);
    const latest = tree.snapshotEntry(role)?.version ?? 0;
    if (status?.state === 'trusted') return { current: status.metadata.signed, keys: chain[chain.length - 1]! };
    return { current: buildTargets(latest, expiresAfter(new Date(), this.targetsLifetimeMs)), keys: chain[chain.length - 1]!, invalid: status?.state === 'invalid' };
  }

  /** Starts unlocking the targets key the locally trusted root lists; never fails (errors resurface later). */
  private async unlockFromLocalTrust(gun: string): Promise<void> {
    const hint = signingKeyHint(this.options.home, gun);
    // No trusted metadata yet, or no key here: the unlock after the refresh reports it.
    if (hint) await this.keys.unlock(hint.keyIds, hint.label, gun).catch(() => {});
  }


  private context(gun: string, deadline: Deadline) {
    return {
      home: this.options.home,
      server: this.options.server,
      gun,
      deadline,
      warn: this.options.warn,
      token: this.options.token,
      transport: { ca: this.options.ca },
    };
  }
}

function alreadyExists(gun: string, rootVersion: number, cause?: unknown): UsageError {
  return new UsageError(`collection ${gun} already exists (root v${rootVersion}): sign tags into it, or pick another name`, { cause });
}

/** For an optional key: undefined when this home does not hold it. */
function ignoreMissingKey(err: unknown): undefined {
  if (err instanceof KeyNotFoundError) return undefined;
  throw err;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
