/**
 * The cache fast path: a GET of a metadata file that the read cache can answer on its own is sent
 * straight from prepared bytes, before Koa. Everything else (a miss, a timestamp due for renewal, a
 * gzip copy not made yet, HEAD, query strings, escapes, other routes) goes to the Koa app, which
 * answers the same request the same way, only slower. Headers come from metadata-response.ts. A
 * collection the cache knows not to exist gets its 404 here too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Repository } from '../repository.js';
import type { PreparedFile } from '../read-cache.js';
import type { ApiErrorBody } from '@tagtrust/shared';
import { requestIdOf } from '../logging/request-context.js';
import { cacheControl, missingMetadataMessage, notModified, responseHeaders } from './metadata-response.js';

/** `/v2/<gun>/_trust/tuf/[<N>.]<top-level role>.json`; `_trust` cannot be a gun path component. */
const FAST_PATH = /^\/v2\/([^?#%]+)\/_trust\/tuf\/(?:([1-9]\d{0,11})\.)?(root|targets|snapshot|timestamp)\.json$/;
/** Accept-Encoding that plainly asks for gzip (anything with q-values goes the full way). */
const ACCEPTS_GZIP = /\bgzip\b/;

/**
 * Answers `req` from the cache if it can. @returns false when the request must go to the app.
 * The gun needs no validation here: only normalised names are ever cached.
 */
export function serveFromCache(repository: Repository, req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
  if (req.method !== 'GET') return false;
  const match = FAST_PATH.exec(req.url ?? '');
  if (!match) return false;
  const version = match[2] === undefined ? undefined : Number(match[2]);
  if (repository.checksLatest && version === undefined && match[3] === 'timestamp') {
    // Replicas: the cached timestamp only once the database says it is the latest (a failed check goes the full way).
    return repository.cachedLatestTimestamp(match[1]!).then((file) => (file ? send(file, version, req, res) : false), () => false);
  }
  if (repository.knownAbsent(match[1]!)) {
    // The 404 the app's error middleware sends for the same request.
    const body = JSON.stringify({ error: { code: 'NOT_FOUND', message: missingMetadataMessage(match[1]!, match[3]!, version), requestId: requestIdOf(req) } } satisfies ApiErrorBody);
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
    return true;
  }
  const file = repository.cachedFile(match[1]!, match[3]!, version);
  return file ? send(file, version, req, res) : false;
}

function send(file: PreparedFile, version: number | undefined, req: IncomingMessage, res: ServerResponse): boolean {
  const acceptEncoding = req.headers['accept-encoding'];
  let gzip = false;
  if (file.compressible && acceptEncoding !== undefined && ACCEPTS_GZIP.test(acceptEncoding)) {
    if (acceptEncoding.includes('q=') || !file.gzippedBody) return false;
    gzip = true;
  }
  const headers = responseHeaders(file, gzip, cacheControl(file, version !== undefined, Date.now()));
  if (notModified(req.headers['if-none-match'], headers.etag!)) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  const body = gzip ? file.gzippedBody! : file.body;
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(body.length);
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  res.end(body);
  return true;
}
