/**
 * The publisher API: create a collection, sign and unsign tags, rotate keys and change the root.
 * Key rotation and root changes live in root-changes.ts; Publisher exposes them.
 *
 * Every change starts from verified metadata (a full TUF update), never from what the server
 * merely says. When another publisher got there first (409), the change is re-read, re-applied,
 * re-signed and retried, so concurrent signers lose no tag.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { KeyAlgorithm } from '@tagtrust/keys';
import { generateKeyPair, keyIdOf, signMetadata } from '@tagtrust/keys';
import {
  DEFAULT_LIFETIMES,
  InvalidInputError,
  NotSignedError,
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
import type { Metadata, TargetFileInfo, TargetsSigned } from '@tagtrust/shared';
import { Deadline } from './deadline.js';
import type { PassphraseProvider } from './keystore.js';
import { KeyStore, environmentPassphrases } from './keystore.js';
import type { ClientOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options.js';
import { ServerApi } from './server-api.js';
import { RootChanges } from './root-changes.js';
import type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';
import type { TrustedMetadata } from './tuf/trusted-collection.js';
import { trustRoot, withTrustedCollection } from './tuf/trusted-collection.js';

export type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';

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
  private readonly rootChanges: RootChanges;

  constructor(options: PublisherOptions = {}) {
    this.options = resolveOptions(options);
    this.keys = new KeyStore(this.options.home, options.passphrases ?? environmentPassphrases);
    this.targetsLifetimeMs = options.targetsLifetimeMs ?? DEFAULT_LIFETIMES.targets;
    this.rootLifetimeMs = options.rootLifetimeMs ?? DEFAULT_LIFETIMES.root;
    this.maxAttempts = options.maxAttempts ?? 50;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
