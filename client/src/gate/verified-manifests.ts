/**
 * Manifest bytes the gate may serve: fetched from the upstream by digest, hashed against that digest
 * (and the signed length when known, read no further than length + 1), and cached by digest.
 *
 * The strict mode's allow-list also lives here: the digests reachable from the signed manifests of a
 * collection (each signed manifest, an index's child manifests, and every manifest's config and
 * layers), computed from the verifier's current listing and recomputed when the listing changes.
 *
 * Rules:
 * - A cache entry fetched with a puller's own credentials is only served to requests carrying the
 *   same Authorization header; entries fetched anonymously or with the gate's credentials are shared.
 * - Every upstream manifest read is bounded in time (`timeoutMs`) and size.
 */
import { createHash } from 'node:crypto';
import type { SignedTag } from '../puller.js';
import type { TagVerifier } from '../verified/tag-verifier.js';
import { referencesOf } from '../registry/manifest-format.js';
import { RegistryUnauthorizedError } from '../registry/registry-client.js';
import type { RegistryClient, RegistryRequest } from '../registry/registry-client.js';
import { ManifestCache } from './manifest-cache.js';
import type { CachedManifest } from './manifest-cache.js';

/** Most manifests one strict-mode walk reads (signed manifests and their children). */
const MAX_WALKED_MANIFESTS = 2_000;

export interface VerifiedManifestsOptions {
  upstream: RegistryClient;
  verifier: TagVerifier;
  timeoutMs: number;
  cacheBytes: number;
  warn: (line: string) => void;
}

export type Relay = RegistryRequest['relay'];

export class VerifiedManifests {
  private readonly cache: ManifestCache;
  private readonly reachable = new WeakMap<SignedTag[], Promise<Map<string, number>>>();

  constructor(private readonly options: VerifiedManifestsOptions) {
    this.cache = new ManifestCache(options.cacheBytes);
  }

  /**
   * The manifest stored upstream under `digest` in repository `name`, checked against the digest.
   * @throws MismatchError, TooLargeError, NotFoundError, TimeoutError, NetworkError, RegistryUnauthorizedError
   */
  get(name: string, digest: string, size: number | undefined, relay: Relay): Promise<CachedManifest> {
    const owner = relay?.authorization ? createHash('sha256').update(relay.authorization).digest('hex') : '';
    return this.cache.get(`${digest}\u0000${name}\u0000${owner}`, async () => {
      const manifest = await this.options.upstream.manifestByDigest(name, digest, {
        signal: AbortSignal.timeout(this.options.timeoutMs),
        ...(size === undefined ? {} : { size }),
        ...(relay ? { relay } : {}),
      });
      return { bytes: manifest.bytes, ...(manifest.contentType ? { contentType: manifest.contentType } : {}) };
    });
  }

  /**
   * The size a signed manifest of `gun` (served upstream as `name`) gives `digest`, directly or through
   * an index; undefined when no signed manifest reaches it.
   */
  async reachableSize(gun: string, name: string, digest: string, relay: Relay): Promise<number | undefined> {
    const listing = await this.options.verifier.list(gun);
    let digests = this.reachable.get(listing);
    if (!digests) {
      digests = this.walk(gun, name, listing, relay);
      this.reachable.set(listing, digests);
      digests.catch(() => this.reachable.delete(listing));
    }
    return (await digests).get(digest);
  }

  private async walk(gun: string, name: string, listing: SignedTag[], relay: Relay): Promise<Map<string, number>> {
    const digests = new Map<string, number>();
    const queue: { digest: string; size: number }[] = listing.map((tag) => ({ digest: tag.digest, size: tag.size }));
    for (let read = 0; queue.length > 0 && read < MAX_WALKED_MANIFESTS; read += 1) {
      const { digest, size } = queue.shift()!;
      if (digests.has(digest)) continue;
      digests.set(digest, size);
      let bytes: Buffer;
      try {
        bytes = (await this.get(name, digest, size, relay)).bytes;
      } catch (err) {
        // A puller without credentials gets the upstream's challenge, not a partial allow-list.
        if (err instanceof RegistryUnauthorizedError) throw err;
        this.options.warn(`strict mode: ${gun}: cannot read manifest ${digest} (${(err as Error).message}); what it references stays refused`);
        continue;
      }
      const { manifests, blobs } = referencesOf(bytes);
      for (const blob of blobs) digests.set(blob.digest, blob.size);
      queue.push(...manifests);
    }
    return digests;
  }
}
