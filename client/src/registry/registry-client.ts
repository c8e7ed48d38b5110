/**
 * A small client for the OCI Distribution API (the part tagtrust needs): manifests by tag and by
 * digest, blobs, tag lists, and monolithic pushes.
 *
 * Rules:
 * - Manifests are read with a byte cap (the signed length + 1 when it is known, else 4 MiB) and every
 *   manifest read by digest is hashed: bytes that do not hash to the digest are refused.
 * - Every request takes the caller's AbortSignal (its deadline).
 * - Authorization: in relay mode the puller's own `Authorization` is sent and a 401 is returned to the
 *   caller with its challenge (RegistryUnauthorizedError); otherwise the client answers the challenge
 *   itself, with the configured credentials or anonymously (registry-auth.ts).
 * - GET redirects (blob storage) are followed, at most MAX_REDIRECTS. The Authorization header goes
 *   to the registry's own origin only (not to blob storage, nor to an upload URL elsewhere).
 */
import { MismatchError, NetworkError, NotFoundError, ForbiddenError, ServerError, TagTrustError, TimeoutError, TooLargeError, UnauthorizedError, UsageError } from '@tagtrust/shared';
import { httpRequest, readBody } from '../http/transport.js';
import type { HttpResponse, TransportOptions } from '../http/transport.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, sha256Digest } from './manifest-format.js';
import { TokenCache, parseChallenge } from './registry-auth.js';
import type { RegistryCredentials } from './registry-auth.js';

export interface RegistryClientOptions {
  /** `http(s)://host[:port]` */
  url: string;
  credentials?: RegistryCredentials;
  ca?: string | Buffer;
}

export interface RegistryRequest {
  signal: AbortSignal;
  /** Relay mode: send this Authorization (the puller's; none when undefined) and return 401s. */
  relay?: { authorization?: string };
}

interface SendRequest extends RegistryRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

export interface RegistryManifest {
  bytes: Buffer;
  /** The registry's Content-Type. */
  contentType?: string;
  /** The registry's Docker-Content-Digest. */
  digest?: string;
}

/** The registry answered 401; `challenge` is its WWW-Authenticate header, for relaying. */
export class RegistryUnauthorizedError extends UnauthorizedError {
  constructor(
    message: string,
    readonly challenge: string | undefined,
  ) {
    super(message);
    this.name = 'RegistryUnauthorizedError';
  }
}

const MAX_REDIRECTS = 5;
const MAX_SMALL_BODY_BYTES = 1024 * 1024;
const MAX_REMEMBERED = 1_024;

export class RegistryClient {
  readonly url: string;
  /** The CA given for an https registry (the gate's push relay opens its own connections with it). */
  readonly ca: string | Buffer | undefined;
  private readonly transport: TransportOptions;
  private readonly tokens: TokenCache;
  /** The Authorization that last worked per repository, so the next request skips the 401. */
  private readonly remembered = new Map<string, string>();

  constructor(options: RegistryClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new UsageError(`registry URL "${options.url}" is not a URL: use e.g. https://registry.example.com`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`registry URL "${options.url}" must start with http:// or https://`);
    this.url = url.origin;
    this.ca = options.ca;
    this.transport = options.ca === undefined ? {} : { ca: options.ca };
    this.tokens = new TokenCache(options.credentials, this.transport);
  }

  /** The registry's host[:port], the default domain of the collections behind it. */
  get host(): string {
    return new URL(this.url).host;
  }

  /**
   * One request to `/v2/<path>`: authenticated, redirects followed for GET/HEAD.
   * @throws NetworkError, TimeoutError, RegistryUnauthorizedError (relay mode)
   */
  async send(name: string, path: string, request: SendRequest): Promise<HttpResponse> {
    const method = request.method ?? 'GET';
    const target = path.startsWith('http://') || path.startsWith('https://') ? path : `${this.url}/v2/${path}`;
    const what = `${method} ${new URL(target).pathname}`;
    let authorization = request.relay ? request.relay.authorization : this.remembered.get(name);
    let response = await this.guard(what, request.signal, () => this.follow(target, method, request, authorization));
    if (response.status === 401 && !request.relay) {
      const challenge = parseChallenge(header(response, 'www-authenticate'));
      response.body.resume();
      if (challenge) {
        authorization = await this.tokens.answer(challenge, request.signal);
        response = await this.guard(what, request.signal, () => this.follow(target, method, request, authorization));
        if (response.status !== 401) this.remember(name, authorization);
      }
    }
    if (response.status === 401) {
      response.body.resume();
      throw new RegistryUnauthorizedError(`${this.url} refused ${what}: credentials are missing or wrong (HTTP 401)`, header(response, 'www-authenticate'));
    }
    return response;
  }

  /**
   * A manifest by tag or digest, read whole up to `maxBytes` (default 4 MiB).
   * @throws NotFoundError (404), TooLargeError, and the errors of send()
   */
  async manifest(name: string, reference: string, request: RegistryRequest & { maxBytes?: number; method?: 'GET' | 'HEAD' }): Promise<RegistryManifest> {
    const what = `${this.host}/${name} manifest ${reference}`;
    const maxBytes = request.maxBytes ?? MAX_MANIFEST_BYTES;
    const response = await this.guard(what, request.signal, () =>
      this.send(name, `${name}/manifests/${reference}`, { ...request, method: request.method ?? 'GET', headers: { accept: MANIFEST_ACCEPT } }),
    );
    await expectStatus(response, [200], what);
    const declared = Number(header(response, 'content-length'));
    if (declared > maxBytes) {
      response.body.destroy();
      throw new TooLargeError(`${what}: the registry announces ${declared} bytes, more than the ${maxBytes} expected`);
    }
    const bytes = request.method === 'HEAD' ? Buffer.alloc(0) : await this.guard(what, request.signal, () => readBody(response.body, maxBytes, () => new TooLargeError(`${what}: the registry sent more than the ${maxBytes} bytes expected`)));
    const contentType = header(response, 'content-type')?.split(';')[0]?.trim();
    const digest = header(response, 'docker-content-digest');
    return { bytes, ...(contentType ? { contentType } : {}), ...(digest ? { digest } : {}) };
  }

  /**
   * The manifest stored under `digest`, checked to hash to it (and to be `size` bytes when given).
   * @throws MismatchError when the registry serves other bytes, TooLargeError, NotFoundError
   */
  async manifestByDigest(name: string, digest: string, request: RegistryRequest & { size?: number }): Promise<RegistryManifest> {
    if (request.size !== undefined && request.size > MAX_MANIFEST_BYTES) {
      throw new TooLargeError(`${this.host}/${name}@${digest} is signed as ${request.size} bytes, more than a manifest may be (${MAX_MANIFEST_BYTES}); refusing to read it`);
    }
    const maxBytes = request.size === undefined ? MAX_MANIFEST_BYTES : request.size + 1;
    let manifest: RegistryManifest;
    try {
      manifest = await this.manifest(name, digest, { ...request, maxBytes });
    } catch (err) {
      if (err instanceof TooLargeError && request.size !== undefined) throw new MismatchError(`${this.host}/${name}@${digest}: the registry sent more than the ${request.size} bytes signed; refusing it`);
      throw err;
    }
    const actual = sha256Digest(manifest.bytes);
    if (actual !== digest || (request.size !== undefined && manifest.bytes.length !== request.size)) {
      throw new MismatchError(
        `${this.host}/${name}@${digest}: the registry served other bytes (${actual}, ${manifest.bytes.length} bytes${request.size === undefined ? '' : `, ${request.size} signed`}); refusing them`,
      );
    }
    return manifest;
  }

  /** The digest a tag points to now, or undefined when the registry does not have the tag. */
  async tagDigest(name: string, tag: string, request: RegistryRequest): Promise<string | undefined> {
    try {
      const head = await this.manifest(name, tag, { ...request, method: 'HEAD' });
      if (head.digest) return head.digest;
      return sha256Digest((await this.manifest(name, tag, request)).bytes);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Every tag the registry lists for `name` (pages followed, at most 100). */
  async tags(name: string, request: RegistryRequest): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `${name}/tags/list?n=1000`;
    for (let page = 0; path && page < 100; page += 1) {
      const what = `${this.host}/${name} tag list`;
      const response = await this.guard(what, request.signal, () => this.send(name, path!, request));
      if (response.status === 404) {
        response.body.resume();
        return tags;
      }
      await expectStatus(response, [200], what);
      const body = await readBody(response.body, MAX_SMALL_BODY_BYTES, () => new TooLargeError(`${what}: a page larger than 1 MiB`));
      const listed = (JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags;
      if (Array.isArray(listed)) tags.push(...listed.filter((t): t is string => typeof t === 'string'));
      const next = header(response, 'link')?.match(/<([^>]+)>/)?.[1];
      path = next ? new URL(next, `${this.url}/`).toString() : undefined;
    }
    return tags;
  }

  /** Uploads a blob in one request unless the registry has it already. */
  async pushBlob(name: string, digest: string, bytes: Uint8Array, request: RegistryRequest): Promise<void> {
    const what = `pushing blob ${digest} to ${this.host}/${name}`;
    const head = await this.guard(what, request.signal, () => this.send(name, `${name}/blobs/${digest}`, { ...request, method: 'HEAD' }));
    head.body.resume();
    if (head.status === 200) return;
    const start = await this.guard(what, request.signal, () => this.send(name, `${name}/blobs/uploads/`, { ...request, method: 'POST', headers: { 'content-length': '0' } }));
    await expectStatus(start, [202], what);
    start.body.resume();
    const location = header(start, 'location');
    if (!location) throw new ServerError(`${what}: the registry started an upload without a Location`);
    const upload = new URL(location, `${this.url}/`);
    upload.searchParams.set('digest', digest);
    const put = await this.guard(what, request.signal, () =>
      this.send(name, upload.toString(), { ...request, method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes }),
    );
    await expectStatus(put, [201], what);
    put.body.resume();
  }

  /** Stores a manifest under a tag; returns the digest the registry reports (or computes). */
  async pushManifest(name: string, tag: string, bytes: Uint8Array, mediaType: string, request: RegistryRequest): Promise<string> {
    const what = `pushing manifest ${name}:${tag} to ${this.host}`;
    const put = await this.guard(what, request.signal, () => this.send(name, `${name}/manifests/${tag}`, { ...request, method: 'PUT', headers: { 'content-type': mediaType }, body: bytes }));
    await expectStatus(put, [201], what);
    put.body.resume();
    return header(put, 'docker-content-digest') ?? sha256Digest(bytes);
  }

  private async follow(url: string, method: string, request: SendRequest, authorization: string | undefined): Promise<HttpResponse> {
    let target = url;
    for (let hop = 0; ; hop += 1) {
      const headers: Record<string, string> = { ...request.headers };
      // Credentials are for the registry: never for blob storage or an upload URL on another origin.
      if (authorization && new URL(target).origin === this.url) headers.authorization = authorization;
      const body = hop === 0 ? request.body : undefined;
      const response = await httpRequest(target, { method, headers, signal: request.signal, ...(body ? { body } : {}) }, this.transport);
      const location = header(response, 'location');
      if (![301, 302, 303, 307, 308].includes(response.status) || !location || (method !== 'GET' && method !== 'HEAD')) return response;
      response.body.resume();
      if (hop >= MAX_REDIRECTS) throw new ServerError(`${this.url} redirected ${method} more than ${MAX_REDIRECTS} times`);
      target = new URL(location, target).toString();
    }
  }

  private remember(name: string, authorization: string): void {
    this.remembered.delete(name);
    if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
    this.remembered.set(name, authorization);
  }

  /** Runs `step`, turning transport failures into one-line tagtrust errors. */
  private async guard<T>(what: string, signal: AbortSignal, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof TimeoutError || (err instanceof TagTrustError && !signal.aborted)) throw err;
      if (signal.aborted || (err as Error).name === 'AbortError') {
        throw new TimeoutError(`${what}: the registry did not answer in time; it is slow or hostile`, { cause: err });
      }
      throw new NetworkError(`${what}: cannot reach ${this.url} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
  }
}

export function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** @throws the error class of the status when it is not one of `expected` */
async function expectStatus(response: HttpResponse, expected: number[], what: string): Promise<void> {
  if (expected.includes(response.status)) return;
  const detail = await readBody(response.body, 4096, () => new Error('long'))
    .then((body) => registryErrorMessage(body))
    .catch(() => undefined);
  const because = `HTTP ${response.status}${detail ? `: ${detail}` : ''}`;
  if (response.status === 404) throw new NotFoundError(`${what}: the registry does not have it (${because})`);
  if (response.status === 403) throw new ForbiddenError(`${what}: the registry refused it (${because})`);
  throw new ServerError(`${what}: the registry answered ${because}`);
}

/** The first OCI error message of a registry's error body, one line. */
function registryErrorMessage(body: Buffer): string | undefined {
  try {
    const errors = (JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] }).errors;
    const first = errors?.[0];
    if (!first) return undefined;
    return JSON.stringify(`${String(first.code ?? '')} ${String(first.message ?? '')}`.trim().slice(0, 200));
  } catch {
    return undefined;
  }
}
