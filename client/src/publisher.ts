/**
 * The publisher API: create a collection, sign and unsign tags, rotate keys and change the root.
 *
 * Key rotation writes root N+1 signed by the threshold of root N's keys and by its own threshold
 * (spec 5.3.4). When this home holds enough root keys it publishes at once; otherwise the new root
 * travels as a proposal file (root-proposal.ts) that other key holders sign before it is published.
 *
 * Every change starts from verified metadata (a full TUF update), never from what the server
 * merely says. When another publisher got there first (409), the change is re-read, re-applied,
 * re-signed and retried, so concurrent signers lose no tag.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { KeyAlgorithm } from '@tagtrust/keys';
import { addSignature, generateKeyPair, keyIdOf, signMetadata, writeFileAtomic } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import {
  DEFAULT_LIFETIMES,
  InvalidInputError,
  KeyNotFoundError,
  NotSignedError,
  SignatureError,
  UsageError,
  VersionConflictError,
  buildRoot,
  buildTargets,
  expiresAfter,
  parseDigest,
  parseGun,
  parseTaggedReference,
  targetName,
} from '@tagtrust/shared';
import type { Metadata, PublishResponse, RootSigned, TargetFileInfo, TargetsSigned } from '@tagtrust/shared';
import { Deadline } from './deadline.js';
import type { PassphraseProvider } from './keystore.js';
import { KeyStore, environmentPassphrases } from './keystore.js';
import type { ClientOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options.js';
import { ServerApi } from './server-api.js';
import type { ProposalStatus, RootProposal } from './root-proposal.js';
import { ROOT_PROPOSAL_FORMAT, checkProposalBase, describeRootChanges, describeStatus, loadRootProposal, proposalStatus } from './root-proposal.js';
import type { TrustedMetadata } from './tuf/trusted-collection.js';
import { trustRoot, withTrustedCollection } from './tuf/trusted-collection.js';

export interface PublisherOptions extends ClientOptions {
  /** Where passphrases come from (default: TAGTRUST_<ROLE>_PASSPHRASE environment variables). */
  passphrases?: PassphraseProvider;
  /** Lifetime of signed targets, in ms (default 90 days). */
  targetsLifetimeMs?: number;
  /** Lifetime of a new root, in ms (default 365 days). */
  rootLifetimeMs?: number;
  /** How many times a publish is retried after losing a race to another publisher (default 50). */
  maxAttempts?: number;
}

export interface InitOptions {
  algorithm?: KeyAlgorithm;
  /** How many root keys to create (default 1); all are kept in this home until you move them. */
  rootKeys?: number;
  /** How many root keys must sign a new root (default 1). */
  rootThreshold?: number;
}

/** A role whose keys `rotateKey` replaces. */
export type RotatableRole = 'root' | 'targets' | 'snapshot' | 'timestamp';

export interface RootChangeOptions {
  /** Replace this role's key(s): snapshot/timestamp ask the server for a new key; root/targets create one here. */
  rotate?: RotatableRole;
  /** For root: which root key to replace (a key ID or its prefix); default the first one this home holds. */
  replaceKeyId?: string;
  /** A new root threshold. */
  rootThreshold?: number;
  algorithm?: KeyAlgorithm;
}

export interface RootChangeResult {
  proposal: RootProposal;
  status: ProposalStatus;
  /** One line per role whose keys changed. */
  changes: string[];
  /** Files of private keys created here. */
  keyFiles: string[];
  /** Versions now current on the server, when the change was published. */
  published?: PublishResponse['versions'];
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
  /** The targets version that now holds the change. */
  targetsVersion: number;
  /** Publish attempts it took (more than 1 when other publishers got there first). */
  attempts: number;
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

export class Publisher {
  private readonly options: ResolvedOptions;
  private readonly keys: KeyStore;
  private readonly targetsLifetimeMs: number;
  private readonly rootLifetimeMs: number;
  private readonly maxAttempts: number;

  constructor(options: PublisherOptions = {}) {
    this.options = resolveOptions(options);
    this.keys = new KeyStore(this.options.home, options.passphrases ?? environmentPassphrases);
    this.targetsLifetimeMs = options.targetsLifetimeMs ?? DEFAULT_LIFETIMES.targets;
    this.rootLifetimeMs = options.rootLifetimeMs ?? DEFAULT_LIFETIMES.root;
    this.maxAttempts = options.maxAttempts ?? 50;
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
    if (!Number.isInteger(rootThreshold) || rootThreshold < 1 || rootThreshold > rootKeys) {
      throw new UsageError(`--root-threshold must be 1 to ${rootKeys} (the number of root keys), got ${rootThreshold}`);
    }
    const deadline = new Deadline(this.options.timeoutMs, `initialising ${gun}`);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline);
      const [snapshotKey, timestampKey] = await Promise.all([api.getOnlineKey(gun, 'snapshot'), api.getOnlineKey(gun, 'timestamp')]);
      const rootPairs = await Promise.all(Array.from({ length: rootKeys }, () => generateKeyPair(options.algorithm)));
      const targetsPair = await generateKeyPair(options.algorithm);
      const keyFiles: string[] = [];
      for (const pair of rootPairs) keyFiles.push(await this.keys.add(pair, { role: 'root', gun }));
      keyFiles.push(await this.keys.add(targetsPair, { role: 'targets', gun }));
      const now = new Date();
      const one = (key: typeof snapshotKey) => ({ keys: { [keyIdOf(key)]: key }, threshold: 1 });
      const root = signMetadata(
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
      const targets = signMetadata(buildTargets(1, expiresAfter(now, this.targetsLifetimeMs)), [targetsPair]);
      try {
        await api.publish(gun, { root, targets });
      } catch (err) {
        if (err instanceof VersionConflictError) {
          throw new UsageError(`collection ${gun} already exists (root v${err.currentVersion}): sign tags into it, or pick another name`, { cause: err });
        }
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
  async sign(reference: string, manifest: Partial<TagManifest> = {}): Promise<PublishResult> {
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
    const result = await this.changeTargets(parsed.gun, `signing ${name}`, (targets) => ({ ...targets, [name]: entry }));
    return { reference: name, digest, ...result };
  }

  /** Removes the signed mapping of `<gun>:<tag>`. @throws NotSignedError when it is not signed */
  async unsign(reference: string): Promise<PublishResult> {
    const parsed = parseTaggedReference(reference);
    const name = targetName(parsed.gun, parsed.tag);
    const result = await this.changeTargets(parsed.gun, `unsigning ${name}`, (targets) => {
      if (!(name in targets)) throw new NotSignedError(`${name} is not signed, so there is nothing to remove`);
      const { [name]: _removed, ...rest } = targets;
      return rest;
    });
    return { reference: name, ...result };
  }

  /**
   * Rotates a role's key and publishes root N+1 (and, for targets, targets re-signed with the new
   * key). Snapshot/timestamp: the server creates a pending key and switches to it when this root is
   * published. Root/targets: a new key is created in this home.
   * @throws UsageError (before changing anything) when this home holds too few root keys to meet the
   *   thresholds: use `prepareRoot` and have other holders sign the proposal
   */
  async rotateKey(gunInput: string, role: RotatableRole, options: Omit<RootChangeOptions, 'rotate'> = {}): Promise<RootChangeResult> {
    const gun = parseGun(gunInput);
    return this.withDeadline(`rotating the ${role} key of ${gun}`, async (api, deadline) => {
      const trusted = await this.refresh(gun, deadline);
      await this.checkCanPublishAlone(gun, trusted.root, { ...options, rotate: role });
      const result = await this.buildRootChange(gun, trusted, api, { ...options, rotate: role });
      if (!result.status.ready) throw new SignatureError(`the new root is ${describeStatus(result.status)}: nothing was published`);
      const response = await api.publish(gun, { root: result.proposal.root, ...(result.proposal.targets ? { targets: result.proposal.targets } : {}) });
      return { ...result, published: response.versions };
    });
  }

  /**
   * Builds root N+1 with the requested change, signed by the root keys this home holds, and writes it
   * to `outFile` as a proposal for other key holders to sign (`signRootProposal`) and anyone to
   * publish (`publishRootProposal`).
   */
  async prepareRoot(gunInput: string, outFile: string, options: RootChangeOptions = {}): Promise<RootChangeResult> {
    const gun = parseGun(gunInput);
    return this.withDeadline(`preparing a new root for ${gun}`, async (api, deadline) => {
      const trusted = await this.refresh(gun, deadline);
      const result = await this.buildRootChange(gun, trusted, api, options);
      await writeProposal(outFile, result.proposal);
      return result;
    });
  }

  /** Adds signatures by every root key (current or proposed) this home holds to a proposal file. */
  async signRootProposal(file: string): Promise<Omit<RootChangeResult, 'keyFiles'> & { added: string[] }> {
    const proposal = await loadRootProposal(file);
    return this.withDeadline(`signing the root proposal for ${proposal.gun}`, async (_api, deadline) => {
      const trusted = await this.refresh(proposal.gun, deadline);
      checkProposalBase(proposal, trusted.root);
      const keyIds = [...trusted.root.signed.roles.root.keyids, ...proposal.root.signed.roles.root.keyids];
      const signers = await this.keys.unlockAll(keyIds, 'root', proposal.gun);
      if (signers.length === 0) {
        throw new KeyNotFoundError(`this home holds none of the root keys of ${proposal.gun} (current or proposed): sign on the machine that holds one (--home / TAGTRUST_HOME)`);
      }
      let root = proposal.root;
      for (const signer of signers) root = addSignature(root, signer);
      const signed = { ...proposal, root };
      await writeProposal(file, signed);
      return {
        proposal: signed,
        status: proposalStatus(signed, trusted.root),
        changes: describeRootChanges(trusted.root.signed, signed.root.signed),
        added: signers.map((s) => s.keyId),
      };
    });
  }

  /**
   * Publishes a proposal once it carries enough signatures.
   * @throws SignatureError (publishing nothing) when a threshold is not met
   */
  async publishRootProposal(file: string): Promise<Omit<RootChangeResult, 'keyFiles'>> {
    const proposal = await loadRootProposal(file);
    return this.withDeadline(`publishing the root proposal for ${proposal.gun}`, async (api, deadline) => {
      const trusted = await this.refresh(proposal.gun, deadline);
      checkProposalBase(proposal, trusted.root);
      const status = proposalStatus(proposal, trusted.root);
      if (!status.ready) {
        throw new SignatureError(`root v${proposal.root.signed.version} of ${proposal.gun} is ${describeStatus(status)}: have more root key holders run \`tagtrust root sign ${file}\``);
      }
      const response = await api.publish(proposal.gun, { root: proposal.root, ...(proposal.targets ? { targets: proposal.targets } : {}) });
      return { proposal, status, changes: describeRootChanges(trusted.root.signed, proposal.root.signed), published: response.versions };
    });
  }

  private async withDeadline<T>(what: string, run: (api: ServerApi, deadline: Deadline) => Promise<T>): Promise<T> {
    const deadline = new Deadline(this.options.timeoutMs, what);
    try {
      return await run(new ServerApi(this.options.server, this.options.token, deadline), deadline);
    } finally {
      deadline.dispose();
    }
  }

  private refresh(gun: string, deadline: Deadline): Promise<TrustedMetadata> {
    return withTrustedCollection({ home: this.options.home, server: this.options.server, gun, deadline, warn: this.options.warn }, async (session) => session.metadata);
  }

  /** Throws before any change when this home cannot meet both root thresholds by itself. */
  private async checkCanPublishAlone(gun: string, current: Metadata<RootSigned>, options: RootChangeOptions): Promise<void> {
    const role = current.signed.roles.root;
    const held: string[] = [];
    for (const keyId of role.keyids) if (await this.keys.has(keyId)) held.push(keyId);
    const threshold = options.rootThreshold ?? role.threshold;
    if (held.length < role.threshold || held.length < threshold) {
      throw new UsageError(
        `${gun} needs ${Math.max(role.threshold, threshold)} root keys to sign a new root and this home holds ${held.length}: ` +
          `run \`tagtrust key rotate ${gun} ${options.rotate ?? ''} --out FILE\`, have other root key holders run \`tagtrust root sign FILE\`, then \`tagtrust root publish FILE\``.replace('  ', ' '),
      );
    }
  }

  private async buildRootChange(gun: string, trusted: TrustedMetadata, api: ServerApi, options: RootChangeOptions): Promise<RootChangeResult> {
    const current = trusted.root;
    const signed: RootSigned = structuredClone(current.signed);
    signed.version += 1;
    signed.expires = expiresAfter(new Date(), this.rootLifetimeMs);
    const keyFiles: string[] = [];
    let targets: Metadata<TargetsSigned> | undefined;
    const replaceRole = (role: RotatableRole, pair: { keyId: string; publicKey: RootSigned['keys'][string] }) => {
      signed.keys[pair.keyId] = pair.publicKey;
      signed.roles[role] = { keyids: [pair.keyId], threshold: 1 };
    };
    switch (options.rotate) {
      case 'snapshot':
      case 'timestamp': {
        const { keyId, key } = await api.rotateOnlineKey(gun, options.rotate);
        replaceRole(options.rotate, { keyId, publicKey: key });
        break;
      }
      case 'targets': {
        const pair = await generateKeyPair(options.algorithm);
        keyFiles.push(await this.keys.add(pair, { role: 'targets', gun }));
        replaceRole('targets', pair);
        const previous = trusted.targets.signed;
        const next = buildTargets(previous.version + 1, expiresAfter(new Date(), this.targetsLifetimeMs), previous.targets);
        if (previous.delegations) next.delegations = previous.delegations;
        targets = signMetadata(next, [pair]);
        break;
      }
      case 'root': {
        const old = await this.rootKeyToReplace(gun, current.signed.roles.root.keyids, options.replaceKeyId);
        const pair = await generateKeyPair(options.algorithm);
        keyFiles.push(await this.keys.add(pair, { role: 'root', gun }));
        signed.keys[pair.keyId] = pair.publicKey;
        signed.roles.root = { ...signed.roles.root, keyids: signed.roles.root.keyids.map((id) => (id === old ? pair.keyId : id)) };
        break;
      }
      case undefined:
        break;
      default:
        throw new UsageError(`cannot rotate "${String(options.rotate)}": choose root, targets, snapshot or timestamp`);
    }
    if (options.rootThreshold !== undefined) {
      const count = signed.roles.root.keyids.length;
      if (!Number.isInteger(options.rootThreshold) || options.rootThreshold < 1 || options.rootThreshold > count) {
        throw new UsageError(`the root threshold must be 1 to ${count} (the number of root keys), got ${options.rootThreshold}`);
      }
      signed.roles.root.threshold = options.rootThreshold;
    }
    const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
    for (const keyId of Object.keys(signed.keys)) if (!used.has(keyId)) delete signed.keys[keyId];

    const signers: KeyPair[] = await this.keys.unlockAll([...current.signed.roles.root.keyids, ...signed.roles.root.keyids], 'root', gun);
    const description = options.rotate ? `rotate the ${options.rotate} key` : 'new root';
    const proposal: RootProposal = {
      format: ROOT_PROPOSAL_FORMAT,
      gun,
      basedOn: current.signed.version,
      description,
      root: signMetadata(signed, signers),
      ...(targets ? { targets } : {}),
    };
    return { proposal, status: proposalStatus(proposal, current), changes: describeRootChanges(current.signed, signed), keyFiles };
  }

  private async rootKeyToReplace(gun: string, keyIds: string[], wanted: string | undefined): Promise<string> {
    if (wanted !== undefined) {
      const matches = keyIds.filter((id) => id.startsWith(wanted));
      if (matches.length !== 1) {
        throw new UsageError(`--replace ${wanted} matches ${matches.length} of the root keys of ${gun} (${keyIds.map((id) => id.slice(0, 8)).join(', ')}): give a longer prefix`);
      }
      return matches[0]!;
    }
    for (const keyId of keyIds) if (await this.keys.has(keyId)) return keyId;
    throw new KeyNotFoundError(`this home holds none of the root keys of ${gun}: rotate on the machine that holds one, or use --replace KEYID with a proposal`);
  }

  /** Applies `change` to the latest verified targets, signs and publishes; retries lost races. */
  private async changeTargets(
    gun: string,
    what: string,
    change: (targets: TargetsSigned['targets']) => TargetsSigned['targets'],
  ): Promise<{ targetsVersion: number; attempts: number }> {
    const deadline = new Deadline(this.options.timeoutMs, what);
    try {
      const api = new ServerApi(this.options.server, this.options.token, deadline);
      for (let attempt = 1; ; attempt += 1) {
        const trusted = await withTrustedCollection(
          { home: this.options.home, server: this.options.server, gun, deadline, warn: this.options.warn },
          async (session) => session.metadata,
        );
        const targets = await this.signTargets(gun, trusted, change);
        try {
          await api.publish(gun, { targets });
          return { targetsVersion: targets.signed.version, attempts: attempt };
        } catch (err) {
          if (!(err instanceof VersionConflictError) || attempt >= this.maxAttempts) throw err;
          await sleep(Math.random() * Math.min(200, 10 * attempt));
        }
      }
    } finally {
      deadline.dispose();
    }
  }

  private async signTargets(
    gun: string,
    trusted: TrustedMetadata,
    change: (targets: TargetsSigned['targets']) => TargetsSigned['targets'],
  ): Promise<Metadata<TargetsSigned>> {
    const role = trusted.root.signed.roles.targets;
    const key = await this.keys.unlock(role.keyids, 'targets', gun);
    const current = trusted.targets.signed;
    const signed = buildTargets(current.version + 1, expiresAfter(new Date(), this.targetsLifetimeMs), change(current.targets));
    if (current.delegations) signed.delegations = current.delegations;
    return signMetadata(signed, [key]);
  }
}

async function writeProposal(path: string, proposal: RootProposal): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(proposal, null, 2)}\n`, 0o644);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
