/**
 * HTTP(S) for the client, over node:http/https with one keep-alive agent per scheme and CA set, shared
 * by every Publisher and Puller in the process: all requests to a server reuse open connections.
 * node:http rather than the global fetch because fetch (undici) costs tens of milliseconds to load on
 * first use, which a CLI pays on every run, and because a CA file (`--ca`) needs a custom agent.
 *
 * Rules:
 * - Requests ask for gzip and bodies are decompressed as they stream, so size limits apply to the
 *   decompressed bytes.
 * - Every request takes the operation's AbortSignal; aborting ends the request and its body stream.
 * - Idle kept-alive sockets do not keep the process alive (node unrefs them), and are closed after
 *   IDLE_SOCKET_MS, before a server's own idle timeout (node's default is 5 s) can race a new request.
 * - A request that fails with ECONNRESET on a reused socket (the server closed it as we sent) is sent
 *   again (up to three times in all): it never reached the server.
 */
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, decompressed. Consume or destroy it. */
  body: Readable;
}

export interface TransportOptions {
  /** PEM CA certificate(s) to trust for https servers, in addition to the system's. */
  ca?: string | Buffer;
}

/** Idle kept-alive sockets are closed after this long. */
const IDLE_SOCKET_MS = 4_000;

const agents = new Map<string, Promise<HttpAgent>>();

async function agentFor(protocol: string, ca: string | Buffer | undefined): Promise<HttpAgent> {
  const key = `${protocol}${ca === undefined ? '' : `\u0000${ca.toString()}`}`;
  let agent = agents.get(key);
  if (!agent) {
    agent =
      protocol === 'https:'
        ? import('node:https').then(async ({ Agent }) => {
            const secureContext = ca === undefined ? undefined : rootsAnd(await import('node:tls'), ca.toString());
            return new Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, ...(secureContext ? { secureContext } : {}) });
          })
        : import('node:http').then(({ Agent }) => new Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }));
    agents.set(key, agent);
  }
  return agent;
}

/**
 * A TLS context trusting node's bundled root certificates and `ca` (NODE_EXTRA_CA_CERTS does not
 * apply once a `ca` is given, as before). The `ca` option replaces the roots, and passing
 * `[...rootCertificates, ca]` parses some 140 PEM certificates again in every process (30-70 ms of a
 * CLI run on the benchmark machine). Adding `ca` to a default context instead makes node copy its
 * already parsed root store (SecureContext::SetCACert), in about 2 ms; `addCACert` is what
 * createSecureContext itself calls on its native context. Without it, the slow way.
 */
function rootsAnd(tls: typeof import('node:tls'), ca: string) {
  const context = tls.createSecureContext();
  const native = (context as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== 'function') return tls.createSecureContext({ ca: [...tls.rootCertificates, ca] });
  native.addCACert(ca);
  return context;
}

/** One HTTP exchange. Rejects on network errors and aborts; any HTTP status resolves. */
export async function httpRequest(url: string, request: HttpRequest, options: TransportOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const agent = await agentFor(target.protocol, options.ca);
  const { request: send } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const headers: Record<string, string> = { 'accept-encoding': 'gzip', ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
  const exchange = () =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(target, { method: request.method ?? 'GET', headers, agent, signal: request.signal }, resolve);
      req.once('error', (err: NodeJS.ErrnoException) => reject(req.reusedSocket && err.code === 'ECONNRESET' ? new StaleSocketError(err) : err));
      req.end(request.body);
    });
  let response: IncomingMessage | undefined;
  for (let attempt = 1; !response; attempt += 1) {
    try {
      response = await exchange();
    } catch (err) {
      // Another pooled socket may be stale too; a new connection cannot be.
      if (!(err instanceof StaleSocketError) || attempt >= 3) throw err instanceof StaleSocketError ? err.cause : err;
    }
  }
  let body: Readable = response;
  if (response.headers['content-encoding'] === 'gzip') {
    const { createGunzip } = await import('node:zlib');
    const gunzip = createGunzip();
    response.once('error', (err) => gunzip.destroy(err));
    body = response.pipe(gunzip);
  }
  return { status: response.statusCode ?? 0, headers: response.headers, body };
}

/** A kept-alive socket the server had closed: the request never reached it. */
class StaleSocketError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = 'StaleSocketError';
  }
}

/** Reads a whole body, failing with `tooLarge()` once it passes `maxLength` bytes. */
export async function readBody(body: Readable, maxLength: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxLength) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
