/**
 * The registry gate: a read-only OCI Distribution API endpoint in front of an upstream registry that
 * serves a tag only as the digest its publishers signed.
 *
 * Rules:
 * - `manifests/<tag>`: the tag is resolved through the TagVerifier (full TUF verification, answers
 *   reused for at most the refresh interval); the manifest is fetched from the upstream *by the signed
 *   digest* and served only when its bytes hash to that digest with the signed length. Otherwise an
 *   OCI error says why; the upstream's bytes for the tag are never served.
 * - `manifests/<digest>` and `blobs/<digest>` pass through (manifests hashed, blobs streamed); in
 *   strict mode only digests reachable from signed manifests of the collection.
 * - `tags/list` lists the signed tags only.
 * - Pushes are refused (405 UNSUPPORTED) unless `allowPush`: then the push endpoints are relayed to the
 *   upstream (push-relay.ts), except deletes of manifests and blobs (403 DENIED: a gate relaying them
 *   would let anyone who reaches it delete upstream content). Pushing never bypasses verification: a
 *   pushed tag is served by tag only once it is signed.
 * - Without gate credentials, the puller's Authorization is relayed to the upstream and the upstream's
 *   401 challenge relayed back; with them, the gate authenticates itself.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { NotFoundError, UsageError, parseGun } from '@tagtrust/shared';
import type { TagVerifier } from '../verified/tag-verifier.js';
import { isSha256Digest, mediaTypeFor } from '../registry/manifest-format.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { relayBlob } from './blob-relay.js';
import { relayPush } from './push-relay.js';
import { GateRefusal, ociErrorFor, sendOciError } from './oci-errors.js';
import type { OciErrorCode } from './oci-errors.js';
import { VerifiedManifests } from './verified-manifests.js';
import type { Relay } from './verified-manifests.js';

export type OnMoved = 'serve-signed' | 'refuse';

export interface GateConfig {
  upstream: RegistryClient;
  verifier: TagVerifier;
  /** `host:port` to listen on (default 127.0.0.1:5000). */
  listen?: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Collection of repository `<name>`: `<prefix>/<name>` (default: the upstream's host[:port]). */
  collectionPrefix?: string;
  /** Allow by-digest manifests and blobs only when reachable from a signed manifest. */
  strict?: boolean;
  /** When the upstream tag no longer points to the signed digest: serve the signed one, or refuse. */
  onMoved?: OnMoved;
  /** Upstream deadline for a manifest, and the longest silence while streaming a blob (default 30 s). */
  upstreamTimeoutMs?: number;
  /** Manifest cache size in bytes (default 64 MiB). */
  manifestCacheBytes?: number;
  /** Relay the puller's Authorization to the upstream (true unless the gate has its own credentials). */
  relayAuthorization?: boolean;
  /** Relay pushes to the upstream with the pusher's credentials (needs relayed authorization). */
  allowPush?: boolean;
  /** Largest body of one blob upload request relayed (default 10 GiB). */
  maxUploadBytes?: number;
  log?: (line: string) => void;
}

export interface RunningGate {
  url: string;
  close(): Promise<void>;
}

const NAME = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*';
const ROUTE = new RegExp(`^/v2/(${NAME})/(?:manifests/([^/]+)|blobs/([^/]+)|(tags/list))$`);
const TAG = /^\w[\w.-]{0,127}$/;
const PUSH_ROUTE = new RegExp(`^/v2/(${NAME})/(blobs/uploads/([^/]*)|manifests/([^/]+)|blobs/[^/]+)$`);
const UPLOAD_SESSION = /^[A-Za-z0-9][\w.=-]{0,255}$/;

export async function startGate(config: GateConfig): Promise<RunningGate> {
  if (config.allowPush && config.relayAuthorization === false) {
    throw new UsageError('pushes through the gate relay each pusher\'s own credentials: --allow-push cannot be combined with --upstream-credentials (anyone who reaches the gate could push with the gate\'s credentials)');
  }
  const gate = new Gate(config);
  const handler = (req: IncomingMessage, res: ServerResponse) => void gate.handle(req, res);
  const server: Server = config.tls ? createHttpsServer({ cert: config.tls.cert, key: config.tls.key }, handler) : createHttpServer(handler);
  server.keepAliveTimeout = 65_000;
  const [host, port] = splitListen(config.listen ?? '127.0.0.1:5000');
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`cannot listen on ${config.listen ?? '127.0.0.1:5000'} (${err.code ?? err.message}): pick a free --listen address`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${config.tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function splitListen(listen: string): [string, number] {
  const match = listen.match(/^(\[[^\]]+\]|[^:]+):(\d{1,5})$/);
  if (!match || Number(match[2]) > 65_535) throw new UsageError(`--listen "${listen}" must be HOST:PORT, e.g. 127.0.0.1:5000`);
  return [match[1]!.replace(/^\[|\]$/g, ''), Number(match[2])];
}

class Gate {
  private readonly manifests: VerifiedManifests;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly config: GateConfig) {
    this.timeoutMs = config.upstreamTimeoutMs ?? 30_000;
    this.log = config.log ?? ((line) => process.stderr.write(`tagtrust gate: ${line}\n`));
    this.prefix = (config.collectionPrefix ?? config.upstream.host).replace(/\/+$/, '');
    this.manifests = new VerifiedManifests({
      upstream: config.upstream,
      verifier: config.verifier,
      timeoutMs: this.timeoutMs,
      cacheBytes: config.manifestCacheBytes ?? 64 * 1024 * 1024,
      warn: this.log,
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const head = req.method === 'HEAD';
    const path = (req.url ?? '/').split('?')[0]!;
    const route = path.match(ROUTE);
    const blobs = route?.[3] !== undefined;
    try {
      res.setHeader('docker-distribution-api-version', 'registry/2.0');
      const relay: Relay = this.config.relayAuthorization === false ? undefined : { ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
      if ((req.method !== 'GET' && !head) || (this.config.allowPush && path.includes('/blobs/uploads/'))) return await this.push(req, res, path, relay);
      if (path === '/v2/' || path === '/v2') return await this.base(res, head, relay);
      if (!route) throw new GateRefusal('NAME_UNKNOWN', `no such API path ${JSON.stringify(path.slice(0, 200))}`);
      const name = route[1]!;
      const gun = this.collectionOf(name);
      if (route[4]) return await this.tags(res, req, gun, name, head);
      if (blobs) {
        const digest = this.digestOf(route[3]!, 'blob');
        // A pusher asks whether the upstream has a blob before uploading it: "unknown", not "denied".
        const size = await this.requireReachable(gun, name, digest, relay, head && this.config.allowPush ? 'BLOB_UNKNOWN' : 'DENIED');
        return await relayBlob({ upstream: this.config.upstream, timeoutMs: this.timeoutMs, warn: this.log }, { name, digest, size }, req, res, relay);
      }
      const reference = route[2]!;
      if (reference.startsWith('sha256:') || reference.includes(':')) return await this.manifestByDigest(res, gun, name, this.digestOf(reference, 'manifest'), head, relay);
      if (!TAG.test(reference)) throw new GateRefusal('TAG_INVALID', `invalid tag ${JSON.stringify(reference.slice(0, 130))}`);
      return await this.manifestByTag(res, gun, name, reference, head, relay);
    } catch (err) {
      const error = ociErrorFor(err, blobs);
      if (error.code === 'UNKNOWN') this.log(`${req.method} ${path}: ${(err as Error).stack ?? String(err)}`);
      else if (error.code !== 'UNAUTHORIZED') this.log(`${req.method} ${path}: ${error.code}: ${error.message}`);
      if (res.headersSent) res.destroy();
      else sendOciError(res, error, head);
    }
  }

  private async push(req: IncomingMessage, res: ServerResponse, path: string, relay: Relay): Promise<void> {
    const method = req.method ?? '';
    if (!this.config.allowPush) {
      throw new GateRefusal('UNSUPPORTED', `${method} is refused: the gate is read-only; start it with --allow-push to relay pushes to the upstream, or push to the upstream directly (then sign with \`tagtrust sign\`)`);
    }
    const route = path.match(PUSH_ROUTE);
    const [, name, rest, session, reference] = route ?? [];
    const upload = session !== undefined;
    if (!route || !name || !rest) throw new GateRefusal('UNSUPPORTED', `${method} ${JSON.stringify(path.slice(0, 200))} is not a push endpoint the gate relays`);
    if (method === 'DELETE' && !upload) {
      throw new GateRefusal('DENIED', `DELETE is refused: the gate never relays deletes (anyone who reaches it could delete upstream content with their credentials); delete at the upstream registry`);
    }
    if (!isRelayedPush(method, session, reference)) throw new GateRefusal('UNSUPPORTED', `${method} ${JSON.stringify(path.slice(0, 200))} is not a push request the gate relays`);
    const query = new URL(req.url ?? '/', 'http://gate').search;
    return await relayPush({ upstream: this.config.upstream, timeoutMs: this.timeoutMs, maxUploadBytes: this.config.maxUploadBytes ?? 10 * 1024 ** 3, log: this.log }, { name, rest, query }, req, res, relay);
  }

  private async base(res: ServerResponse, head: boolean, relay: Relay): Promise<void> {
    if (relay) {
      // The puller learns from the upstream's challenge where to get a token, as with the upstream itself.
      const response = await this.config.upstream.send('', '', { signal: AbortSignal.timeout(this.timeoutMs), relay });
      response.body.resume();
    }
    sendJson(res, 200, {}, head);
  }

  private async manifestByTag(res: ServerResponse, gun: string, name: string, tag: string, head: boolean, relay: Relay): Promise<void> {
    const signed = await this.config.verifier.resolve(`${gun}:${tag}`);
    if (this.config.onMoved === 'refuse') {
      const now = await this.config.upstream.tagDigest(name, tag, { signal: AbortSignal.timeout(this.timeoutMs), ...(relay ? { relay } : {}) });
      if (now !== signed.digest) {
        throw new GateRefusal('DENIED', `${signed.reference} is signed for ${signed.digest}, but the upstream tag now points to ${now ?? 'nothing'}: refusing (--on-moved refuse); the publisher must sign the new digest, or the tag must be moved back`);
      }
    }
    const manifest = await this.manifests.get(name, signed.digest, signed.size, relay);
    sendManifest(res, manifest.bytes, signed.digest, mediaTypeFor(manifest.bytes, signed.mediaType ?? manifest.contentType), head);
  }

  private async manifestByDigest(res: ServerResponse, gun: string, name: string, digest: string, head: boolean, relay: Relay): Promise<void> {
    await this.requireReachable(gun, name, digest, relay);
    const manifest = await this.manifests.get(name, digest, undefined, relay);
    sendManifest(res, manifest.bytes, digest, mediaTypeFor(manifest.bytes, manifest.contentType), head);
  }

  private async tags(res: ServerResponse, req: IncomingMessage, gun: string, name: string, head: boolean): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://gate').searchParams;
    const listing = await this.config.verifier.list(gun).catch((err: unknown) => {
      throw err instanceof NotFoundError ? new GateRefusal('NAME_UNKNOWN', err.message) : err;
    });
    let tags = listing.map((signed) => signed.tag);
    const last = query.get('last');
    if (last) tags = tags.filter((tag) => tag > last);
    const n = Number(query.get('n'));
    if (query.has('n') && Number.isSafeInteger(n) && n >= 0) tags = tags.slice(0, n);
    sendJson(res, 200, { name, tags }, head);
  }

  /** In strict mode: the size the signed manifests give `digest`, or a refusal. */
  private async requireReachable(gun: string, name: string, digest: string, relay: Relay, refusal: OciErrorCode = 'DENIED'): Promise<number | undefined> {
    if (!this.config.strict) return undefined;
    const size = await this.manifests.reachableSize(gun, name, digest, relay);
    if (size === undefined) throw new GateRefusal(refusal, `${gun}@${digest} is not reachable from any signed tag of ${gun}: refusing it (strict mode)`);
    return size;
  }

  private collectionOf(name: string): string {
    return parseGun(`${this.prefix}/${name}`);
  }

  private digestOf(text: string, what: string): string {
    if (!isSha256Digest(text)) throw new GateRefusal(what === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', `${what} digest ${JSON.stringify(text.slice(0, 80))} is not sha256:<64 lowercase hex>; the gate serves sha256 content only`);
    return text;
  }
}

/** Starting an upload; continuing, querying or cancelling an upload session; storing a manifest. */
function isRelayedPush(method: string, session: string | undefined, reference: string | undefined): boolean {
  if (session === '') return method === 'POST';
  if (session !== undefined) return ['PATCH', 'PUT', 'GET', 'HEAD', 'DELETE'].includes(method) && UPLOAD_SESSION.test(session);
  return reference !== undefined && method === 'PUT' && (TAG.test(reference) || isSha256Digest(reference));
}

function sendManifest(res: ServerResponse, bytes: Buffer, digest: string, mediaType: string, head: boolean): void {
  res.writeHead(200, { 'content-type': mediaType, 'content-length': bytes.length, 'docker-content-digest': digest, etag: `"${digest}"` });
  res.end(head ? undefined : bytes);
}

function sendJson(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}
