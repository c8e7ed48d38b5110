/**
 * The puller API: resolve a tag to the digest its publishers signed, after full TUF verification
 * (root -> timestamp -> snapshot -> targets) against this client's persisted trusted state.
 */
import { createHash } from 'node:crypto';
import {
  MismatchError,
  NotSignedError,
  SubstitutionError,
  TagTrustError,
  UsageError,
  isTargetInCollection,
  parseGun,
  parseTaggedReference,
  pinnedReference,
  targetName,
} from '@tagtrust/shared';
import { verifyRoleSignatures } from '@tagtrust/keys';
import type { AnySigned, TargetFileInfo } from '@tagtrust/shared';
import { Deadline } from './deadline.js';
import type { ClientOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options.js';
import { parseMirrors, worthTryingNext } from './mirrors.js';
import type { CollectionSession, TrustPolicy, TrustedMetadata } from './tuf/trusted-collection.js';
import { withTrustedCollection } from './tuf/trusted-collection.js';

export interface PullerOptions extends ClientOptions {
  /** Root to trust for a collection this client has never seen, instead of trust on first use. */
  rootFile?: string;
  /**
   * Trust the server's root on first contact with an unpinned collection (default true; false when
   * TAGTRUST_NO_TOFU=1). When false, such collections are refused with UntrustedRootError.
   */
  tofu?: boolean;
  /**
   * Refuse metadata whose timestamp was signed longer ago than this (ms), even if it has not expired:
   * a freeze window tighter than the server's timestamp lifetime. Must be at least the server's
   * re-signing interval (half the timestamp lifetime by default: 3 h). Default: expiry only.
   */
  maxAgeMs?: number;
  /** Most new root versions one update walks before refusing the chain (default 256). */
  maxRootRotations?: number;
  /**
   * Static mirrors (base URLs of `tagtrust-server export` output), tried in order when an update
   * from the server fails; without a server, the only sources (default: TAGTRUST_MIRRORS,
   * comma-separated). Verification is the same for every source (mirrors.ts).
   */
  mirrors?: string[];
}

export interface RoleState {
  version: number;
  expires: string;
}

export interface Resolution {
  /** `<gun>:<tag>` */
  reference: string;
  gun: string;
  tag: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
  mediaType?: string;
  /** `<gun>@sha256:<hex>`: pull by this. */
  pinned: string;
  /** The verified metadata the answer relied on. */
  metadata: Record<'root' | 'timestamp' | 'snapshot' | 'targets', RoleState>;
}

export interface SignedTag {
  tag: string;
  reference: string;
  digest: string;
  size: number;
  mediaType?: string;
  /** The role whose signature a lookup of this tag finds: `targets` or a delegated role. */
  signedBy: string;
  /** The key IDs whose signatures on that role made its threshold. */
  keyIds: string[];
}

export class Puller {
  private readonly options: ResolvedOptions;
  private readonly rootFile?: string;
  private readonly policy: TrustPolicy;
  /** The server (when set), then the mirrors: where updates are tried, in order. */
  private readonly sources: string[];
  /** The server that may see the token (undefined when only mirrors are set). */
  private readonly tokenServer: string | undefined;

  constructor(options: PullerOptions = {}) {
    const mirrors = parseMirrors(options.mirrors, process.env.TAGTRUST_MIRRORS);
    const server = options.server ?? process.env.TAGTRUST_SERVER;
    this.options = resolveOptions({ ...options, server: server ?? mirrors[0] });
    this.sources = [...new Set([this.options.server, ...mirrors])];
    this.tokenServer = server === undefined ? undefined : this.options.server;
    this.rootFile = options.rootFile;
    if (options.maxAgeMs !== undefined && !(options.maxAgeMs > 0)) throw new UsageError(`maxAge must be a positive number of milliseconds, got ${options.maxAgeMs}`);
    const rotations = options.maxRootRotations;
    if (rotations !== undefined && !(Number.isSafeInteger(rotations) && rotations >= 0)) {
      throw new UsageError(`maxRootRotations must be a non-negative integer, got ${rotations}`);
    }
    this.policy = {
      tofu: options.tofu ?? process.env.TAGTRUST_NO_TOFU !== '1',
      maxAgeMs: options.maxAgeMs,
      maxRootRotations: rotations,
    };
  }

  /**
   * Resolves `<gun>:<tag>` (optionally `@sha256:<hex>`, which must then match) to its signed digest.
   * @throws NotSignedError, MismatchError, and the verification errors of the update
   */
  async resolve(reference: string): Promise<Resolution> {
    const { gun, tag, digest: expected } = parseTaggedReference(reference);
    return this.withCollection(gun, `resolving ${targetName(gun, tag)}`, (session) => answerFor(session, tag, expected));
  }

  /**
   * Resolves several tags of one collection in one verified update. Each tag's own failure (not
   * signed, substituted, no sha256) is its answer; a failure of the update itself is thrown.
   * @throws the verification errors of the update
   */
  async resolveEach(gunInput: string, tags: readonly string[]): Promise<Map<string, Resolution | TagTrustError>> {
    const gun = parseGun(gunInput);
    return this.withCollection(gun, `resolving ${tags.length} tag(s) of ${gun}`, async (session) => {
      const answers = new Map<string, Resolution | TagTrustError>();
      for (const tag of tags) {
        try {
          answers.set(tag, await answerFor(session, tag));
        } catch (err) {
          if (!(err instanceof NotSignedError || err instanceof MismatchError || err instanceof SubstitutionError)) throw err;
          answers.set(tag, err);
        }
      }
      return answers;
    });
  }

  /**
   * Resolves `reference` and checks that `manifest` (the bytes a registry served for it) is exactly
   * what the tag is signed for.
   * @throws MismatchError when the bytes do not hash to the signed digest or differ in length
   */
  async verify(reference: string, manifest: Uint8Array): Promise<Resolution> {
    const resolution = await this.resolve(reference);
    verifyManifestBytes(resolution, manifest);
    return resolution;
  }

  /**
   * Every signed tag of a collection, sorted by tag: the top-level targets and, through the
   * delegation tree, every tag a lookup would resolve (TUF order: first role wins, terminating
   * delegations and paths respected). A tag whose lookup fails verification is left out, with a warning.
   */
  async list(gunInput: string): Promise<SignedTag[]> {
    return (await this.listVerified(gunInput)).tags;
  }

  /** list(), with the state of the verified metadata the listing relied on (for its expiry). */
  async listVerified(gunInput: string): Promise<{ tags: SignedTag[]; metadata: Resolution['metadata'] }> {
    const gun = parseGun(gunInput);
    return this.withCollection(gun, `listing ${gun}`, async (session) => {
      const tags: SignedTag[] = [];
      const add = (name: string, info: { length: number; hashes: Record<string, string>; custom?: Record<string, unknown> }, signedBy: string, keyIds: string[]) => {
        if (!isTargetInCollection(name, gun) || !info.hashes.sha256) return;
        const mediaType = info.custom?.mediaType;
        tags.push({
          tag: name.slice(gun.length + 1),
          reference: name,
          digest: `sha256:${info.hashes.sha256}`,
          size: info.length,
          ...(typeof mediaType === 'string' ? { mediaType } : {}),
          signedBy,
          keyIds,
        });
      };
      const top = session.metadata.targets.signed.targets;
      if (Object.keys(top).length > 0) {
        const { root, targets } = session.metadata;
        const targetsKeys = verifyRoleSignatures(targets, 'targets', root.signed.roles.targets, root.signed.keys);
        for (const [name, info] of Object.entries(top)) add(name, info, 'targets', targetsKeys);
      }
      const tree = await session.delegations();
      const delegatedNames = new Set<string>();
      for (const view of tree.views()) {
        if (view.status.state === 'invalid') this.options.warn(`${view.role} of ${gun} fails verification (${view.status.error.message}); its tags are not listed`);
        if (view.status.state !== 'trusted') continue;
        for (const name of Object.keys(view.status.metadata.signed.targets)) if (!(name in top)) delegatedNames.add(name);
      }
      for (const name of delegatedNames) {
        // Each role as this lookup reaches it: verified against that delegator, not another one.
        const order = tree.lookupOrder(name);
        const signedBy = order.find(({ role, delegator }) => tree.trusted(role, delegator)?.signed.targets[name]);
        // Every role on the way verified (or unpublished, so empty): the verified tree answers as
        // tuf-js would, without a tuf-js lookup per tag (5,000 binned tags: seconds otherwise).
        const settled = order.every(({ role, delegator }) => {
          const state = tree.status(role, delegator)?.state;
          return state === 'trusted' || state === 'unpublished';
        });
        let info;
        try {
          info = settled ? (signedBy ? tree.trusted(signedBy.role, signedBy.delegator)!.signed.targets[name] : undefined) : await lookupTarget(session, name);
        } catch {
          continue;
        }
        if (info && signedBy) add(name, info, signedBy.role, tree.signedBy(signedBy.role, signedBy.delegator) ?? []);
      }
      session.immutable.observeListing(tags, session.metadata.targets.signed.version);
      tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
      return { tags, metadata: roleStates(session.metadata) };
    });
  }

  /** Runs `use` on the verified collection, from the first source whose update succeeds (mirrors.ts). */
  private async withCollection<T>(gun: string, what: string, use: Parameters<typeof withTrustedCollection<T>>[1]): Promise<T> {
    const deadline = new Deadline(this.options.timeoutMs, what);
    try {
      for (const [i, source] of this.sources.entries()) {
        try {
          return await withTrustedCollection(
            {
              home: this.options.home,
              server: source,
              gun,
              deadline,
              warn: this.options.warn,
              rootFile: this.rootFile,
              policy: this.policy,
              // Tokens are for the server; a mirror never sees one.
              token: source === this.tokenServer ? this.options.token : undefined,
              transport: { ca: this.options.ca },
              mirror: source !== this.tokenServer,
            },
            use,
          );
        } catch (err) {
          const next = this.sources[i + 1];
          if (next === undefined || !worthTryingNext(err)) throw err;
          this.options.warn(`${source} failed for ${gun} (${(err as Error).message}); trying mirror ${next}`);
        }
      }
      throw new UsageError('no server or mirror to read from');
    } finally {
      deadline.dispose();
    }
  }
}

/**
 * Checks manifest bytes against a verified resolution (no network).
 * @throws MismatchError naming both digests and sizes
 */
export function verifyManifestBytes(resolution: Pick<Resolution, 'reference' | 'digest' | 'size'>, manifest: Uint8Array): void {
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  if (digest !== resolution.digest || manifest.byteLength !== resolution.size) {
    throw new MismatchError(
      `the manifest you have (${digest}, ${manifest.byteLength} bytes) is not what ${resolution.reference} is signed for ` +
        `(${resolution.digest}, ${resolution.size} bytes): do not use it; the registry, a proxy or a cache served other content`,
    );
  }
}

function roleStates(metadata: TrustedMetadata): Resolution['metadata'] {
  const state = (signed: AnySigned): RoleState => ({ version: signed.version, expires: signed.expires });
  return {
    root: state(metadata.root.signed),
    timestamp: state(metadata.timestamp.signed),
    snapshot: state(metadata.snapshot.signed),
    targets: state(metadata.targets.signed),
  };
}

/** The verified answer for one tag in an open session (`expected`: a digest the caller was given). */
async function answerFor(session: CollectionSession, tag: string, expected?: string): Promise<Resolution> {
  const gun = session.gun;
  const name = targetName(gun, tag);
  const info = await lookupTarget(session, name);
  const targetsVersion = session.metadata.targets.signed.version;
  session.immutable.observe(tag, info?.path === name && info.hashes.sha256 ? `sha256:${info.hashes.sha256}` : undefined, targetsVersion);
  if (!info) {
    throw new NotSignedError(`${name} is not signed (${gun} targets v${session.metadata.targets.signed.version}): ask its publisher to run \`tagtrust sign\`, or check the tag`);
  }
  if (info.path !== name) throw new SubstitutionError(`metadata answered ${info.path} when asked for ${name}: refusing it`);
  const sha256 = info.hashes.sha256;
  if (!sha256) throw new MismatchError(`${name} is signed without a sha256 digest: the publisher must re-sign it`);
  const digest = `sha256:${sha256}`;
  if (expected && expected !== digest) {
    throw new MismatchError(`${name} is signed for ${digest}, not ${expected}: the reference you were given does not match the signed tag`);
  }
  const mediaType = info.custom.mediaType;
  return {
    reference: name,
    gun,
    tag,
    digest,
    size: info.length,
    ...(typeof mediaType === 'string' ? { mediaType } : {}),
    pinned: pinnedReference(gun, digest),
    metadata: roleStates(session.metadata),
  };
}

type FoundTarget = Omit<TargetFileInfo, 'custom'> & { path: string; custom: Record<string, unknown> };

/**
 * Looks `name` up through the delegation tree with tuf-js (client workflow 5.6.7). tuf-js aborts
 * when the walk reaches a delegated role the snapshot does not list, which is the normal state of
 * a role that was just delegated and has signed nothing yet. Only in that case the answer comes
 * from the same walk over the verified tree (TrustedDelegations), with unpublished roles empty;
 * a role that fails verification on the way still fails the lookup.
 */
async function lookupTarget(session: CollectionSession, name: string): Promise<FoundTarget | undefined> {
  try {
    return await session.getTargetInfo(name);
  } catch (err) {
    const tree = await session.delegations();
    const order = tree.lookupOrder(name);
    const states = order.map(({ role, delegator }) => tree.status(role, delegator)?.state);
    if (!states.includes('unpublished') || states.some((state) => state !== 'trusted' && state !== 'unpublished')) throw err;
    for (const { role, delegator } of order) {
      const info = tree.trusted(role, delegator)?.signed.targets[name];
      if (info) return { ...info, path: name, custom: info.custom ?? {} };
    }
    return undefined;
  }
}
