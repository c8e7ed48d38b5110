/**
 * Latest metadata of each collection, kept in memory as prepared response bytes: the exact stored
 * bytes, their strong ETag and (for large files, made on first demand) a gzip copy. Reads of latest
 * files, and of the version that is latest, are then served without touching the store or hashing.
 *
 * Rules:
 * - An entry is only ever the latest version at the time it was filled. `replace()` is called after
 *   every successful commit with the committed files, synchronously, so no reader sees a timestamp
 *   and a snapshot from different commits once the commit has resolved.
 * - A reader that missed and read the store may only fill the cache if no commit happened since it
 *   started (`ticket()` / `fill()`): a slow read of an old version never overwrites a newer one.
 * - The cache holds at most `maxBytes` of bodies (gzip copies, about a fifth more, are not counted);
 *   the least recently used collections are dropped first. Dropping is always safe: the store stays the source of truth.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { setBounded } from './bounded-map.js';
import type { StoredFile } from './storage/store.js';

const gzip = promisify(gzipCallback);

/** Bodies at least this large are offered gzip-compressed to clients that accept it. */
export const GZIP_MIN_BYTES = 1024;

/** One metadata file, ready to send. */
export class PreparedFile {
  readonly role: string;
  readonly version: number;
  readonly body: Buffer;
  /** Strong ETag of `body` (quoted). */
  readonly etag: string;
  /** For timestamps: when the signed timestamp expires (ms since the epoch). */
  readonly expiresMs: number | undefined;
  private gzipped: Promise<Buffer> | undefined;
  private gzippedReady: Buffer | undefined;

  constructor(file: StoredFile) {
    this.role = file.role;
    this.version = file.version;
    this.body = Buffer.from(file.text, 'utf8');
    const digest = createHash('sha256').update(this.body).digest('base64url').slice(0, 27);
    this.etag = `"${digest}"`;
    this.expiresMs = file.role === 'timestamp' ? timestampExpiry(file.text) : undefined;
  }

  /** Whether clients may be sent a gzip copy. */
  get compressible(): boolean {
    return this.body.length >= GZIP_MIN_BYTES;
  }

  /** Strong ETag of the gzip copy (a different representation, so a different tag). */
  get gzipEtag(): string {
    return `${this.etag.slice(0, -1)}-gz"`;
  }

  /** The gzip copy, compressed once and then reused. */
  gzip(): Promise<Buffer> {
    this.gzipped ??= gzip(this.body).then((bytes) => (this.gzippedReady = bytes));
    return this.gzipped;
  }

  /** The gzip copy if it has been made already (see `gzip()`). */
  get gzippedBody(): Buffer | undefined {
    return this.gzippedReady;
  }
}

function timestampExpiry(text: string): number | undefined {
  try {
    const expires = (JSON.parse(text) as { signed?: { expires?: unknown } }).signed?.expires;
    const ms = typeof expires === 'string' ? Date.parse(expires) : NaN;
    return Number.isNaN(ms) ? undefined : ms;
  } catch {
    return undefined;
  }
}

export interface ReadCacheOptions {
  /** Largest total of cached bodies, in bytes (default 256 MiB). */
  maxBytes?: number;
}

/** A fill permission: valid only while no commit has happened since it was taken. */
export type FillTicket = number;

/** How many names of collections that do not exist the cache remembers (least recently used out). */
export const MAX_ABSENT_COLLECTIONS = 10_000;

export class ReadCache {
  /** gun -> role -> latest file; Map order is least recently used first. */
  private readonly collections = new Map<string, Map<string, PreparedFile>>();
  /**
   * Collections the store had no metadata for (most repositories of a registry are not signed, and
   * every pull with trust enabled asks for their timestamp). Map order is least recently used first.
   */
  private readonly absent = new Map<string, true>();
  private readonly maxBytes: number;
  private commits = 0;
  private bytes = 0;

  constructor(options: ReadCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  }

  /** The cached latest file of a role, if any. */
  get(gun: string, role: string): PreparedFile | undefined {
    const files = this.collections.get(gun);
    if (!files) return undefined;
    // Mark the collection as recently used.
    this.collections.delete(gun);
    this.collections.set(gun, files);
    return files.get(role);
  }

  /** Take before reading the store on a miss; pass to `fill`. */
  ticket(): FillTicket {
    return this.commits;
  }

  /** Caches a file read from the store after a miss, unless a commit happened since `ticket`. */
  fill(gun: string, file: PreparedFile, ticket: FillTicket): void {
    if (ticket !== this.commits) return;
    this.put(this.files(gun), file);
    this.evict();
  }

  /** True when the store had no such collection, and nothing was committed to it since. */
  isAbsent(gun: string): boolean {
    if (!this.absent.has(gun)) return false;
    this.absent.delete(gun);
    this.absent.set(gun, true);
    return true;
  }

  /** Remembers that the store has no collection `gun`, unless a commit happened since `ticket`. */
  markAbsent(gun: string, ticket: FillTicket): void {
    if (ticket !== this.commits) return;
    setBounded(this.absent, gun, true, MAX_ABSENT_COLLECTIONS);
  }

  /** After a commit: the committed files become the cached latest versions. */
  replace(gun: string, files: readonly StoredFile[]): void {
    this.commits += 1;
    this.absent.delete(gun);
    const cached = this.files(gun);
    for (const file of files) this.put(cached, new PreparedFile(file));
    this.evict();
  }

  /** Drops a collection (e.g. after a change made outside `replace`). */
  invalidate(gun: string): void {
    this.commits += 1;
    this.absent.delete(gun);
    this.drop(gun);
  }

  /** Drops every collection and every absence (changes made elsewhere may have been missed). */
  invalidateAll(): void {
    this.commits += 1;
    this.absent.clear();
    this.collections.clear();
    this.bytes = 0;
  }

  /** Role -> version of the cached latest files of `gun` (without marking it used). */
  versions(gun: string): Map<string, number> {
    return new Map([...(this.collections.get(gun)?.values() ?? [])].map((file) => [file.role, file.version]));
  }

  /** Total body bytes held. */
  get size(): number {
    return this.bytes;
  }

  private put(files: Map<string, PreparedFile>, file: PreparedFile): void {
    this.bytes += file.body.length - (files.get(file.role)?.body.length ?? 0);
    files.set(file.role, file);
  }

  private drop(gun: string): void {
    const files = this.collections.get(gun);
    if (!files) return;
    for (const file of files.values()) this.bytes -= file.body.length;
    this.collections.delete(gun);
  }

  private files(gun: string): Map<string, PreparedFile> {
    let files = this.collections.get(gun);
    if (!files) {
      files = new Map();
      this.collections.set(gun, files);
    }
    return files;
  }

  private evict(): void {
    for (const gun of this.collections.keys()) {
      if (this.bytes <= this.maxBytes || this.collections.size <= 1) return;
      this.drop(gun);
    }
  }
}
