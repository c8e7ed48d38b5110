/**
 * The gate's cache of verified manifest bytes. A manifest addressed by its digest never changes, so
 * an entry never goes stale; the cache is bounded by total bytes (least recently used evicted).
 * One load in flight per key: concurrent misses share it. A failed load is not cached. At most
 * `maxLoading` loads run at once (each holds up to a manifest's size in memory); beyond, a miss is
 * refused with 429 TOOMANYREQUESTS, which pullers retry.
 */
import { GateRefusal } from './oci-errors.js';

export interface CachedManifest {
  bytes: Buffer;
  /** What the upstream said the manifest is (used only when neither the signature nor the bytes say). */
  contentType?: string;
}

export class ManifestCache {
  private readonly entries = new Map<string, CachedManifest>();
  private readonly loading = new Map<string, Promise<CachedManifest>>();
  private totalBytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxLoading = 64,
  ) {}

  /** The entry under `key`, or the result of `load` (stored when it fits). */
  get(key: string, load: () => Promise<CachedManifest>): Promise<CachedManifest> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return Promise.resolve(hit);
    }
    let pending = this.loading.get(key);
    if (!pending) {
      if (this.loading.size >= this.maxLoading) {
        return Promise.reject(new GateRefusal('TOOMANYREQUESTS', `${this.maxLoading} upstream manifest reads are already running; retry`));
      }
      pending = load()
        .then((entry) => {
          this.store(key, entry);
          return entry;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  private store(key: string, entry: CachedManifest): void {
    if (entry.bytes.length > this.maxBytes || this.entries.has(key)) return;
    this.totalBytes += entry.bytes.length;
    this.entries.set(key, entry);
    for (const [oldKey, old] of this.entries) {
      if (this.totalBytes <= this.maxBytes) break;
      this.entries.delete(oldKey);
      this.totalBytes -= old.bytes.length;
    }
  }
}
