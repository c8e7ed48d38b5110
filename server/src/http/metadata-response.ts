/**
 * How metadata files are sent: cache headers, strong ETags with `If-None-Match` -> 304, and gzip for
 * large files when the client accepts it. The Koa route (`sendMetadata`) and the cache fast path
 * (fast-read.ts) both use `responseHeaders` and `notModified`, so they answer alike.
 *
 * Cache policy (docs/performance.md):
 * - `N.<role>.json` never changes: `public, max-age=31536000, immutable`.
 * - `timestamp.json` changes on every publish and renewal: caches may keep it for a short while,
 *   `public, max-age=S` with S = min(TIMESTAMP_MAX_AGE_S, a tenth of its remaining lifetime), so a
 *   cached copy is always far from expiry.
 * - Other latest files (`root.json`, `snapshot.json`, `targets.json`): `no-cache` (revalidate; the
 *   ETag makes that a 304).
 * - Files of GZIP_MIN_BYTES or more: `Vary: Accept-Encoding`, gzip when accepted, and a distinct
 *   strong ETag for the gzip representation.
 */
import type { Context } from 'koa';
import type { PreparedFile } from '../read-cache.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Longest time a cache may serve `timestamp.json` without asking again, in seconds. */
const TIMESTAMP_MAX_AGE_S = 60;

/** The Cache-Control value for a file requested by version (exact) or as latest. */
export function cacheControl(file: PreparedFile, exactVersion: boolean, nowMs: number): string {
  if (exactVersion) return IMMUTABLE;
  if (file.role === 'timestamp' && file.expiresMs !== undefined) {
    const tenth = Math.floor((file.expiresMs - nowMs) / 10_000);
    const maxAge = Math.min(TIMESTAMP_MAX_AGE_S, tenth);
    return maxAge > 0 ? `public, max-age=${maxAge}` : 'no-cache';
  }
  return 'no-cache';
}

/** The message of the 404 for a metadata file the collection does not have (or a collection that does not exist). */
export function missingMetadataMessage(gun: string, role: string, version: number | undefined): string {
  return `${gun} has no ${version === undefined ? '' : `version ${version} of `}${role} metadata`;
}

/** Headers of a 200 or 304 answer (without Content-Type/Length/Encoding). */
export function responseHeaders(file: PreparedFile, gzip: boolean, cacheControlValue: string): Record<string, string> {
  const headers: Record<string, string> = { 'cache-control': cacheControlValue, etag: gzip ? file.gzipEtag : file.etag };
  if (file.compressible) headers.vary = 'Accept-Encoding';
  return headers;
}

/** If-None-Match: `*` or a list of entity tags, compared weakly (RFC 9110 13.1.2). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch === etag || ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** Sends `file` (or a 304) with its cache headers. */
export async function sendMetadata(ctx: Context, file: PreparedFile, cacheControlValue: string): Promise<void> {
  const gzip = file.compressible && ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
  const headers = responseHeaders(file, gzip, cacheControlValue);
  ctx.set(headers);
  if (notModified(ctx.get('if-none-match'), headers.etag!)) {
    ctx.status = 304;
    return;
  }
  ctx.set('Content-Type', 'application/json');
  if (gzip) {
    ctx.body = await file.gzip();
    ctx.set('Content-Encoding', 'gzip');
  } else {
    ctx.body = file.body;
  }
}
