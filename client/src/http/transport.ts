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
 * - Idle kept-alive sockets do not keep the process alive (node unrefs them).
 */
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
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

const agents = new Map<string, Promise<HttpAgent>>();

async function agentFor(protocol: string, ca: string | Buffer | undefined): Promise<HttpAgent> {
  const key = `${protocol}${ca === undefined ? '' : `\u0000${ca.toString()}`}`;
  let agent = agents.get(key);
  if (!agent) {
    agent =
      protocol === 'https:'
        ? import('node:https').then(async ({ Agent }) => {
            const { rootCertificates } = await import('node:tls');
            // `ca` replaces the default roots, so keep them (NODE_EXTRA_CA_CERTS still applies too).
            return new Agent({ keepAlive: true, ...(ca === undefined ? {} : { ca: [...rootCertificates, ca.toString()] }) });
          })
        : import('node:http').then(({ Agent }) => new Agent({ keepAlive: true }));
    agents.set(key, agent);
  }
  return agent;
}

/** One HTTP exchange. Rejects on network errors and aborts; any HTTP status resolves. */
export async function httpRequest(url: string, request: HttpRequest, options: TransportOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const agent = await agentFor(target.protocol, options.ca);
  const { request: send } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const headers: Record<string, string> = { 'accept-encoding': 'gzip', ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(target, { method: request.method ?? 'GET', headers, agent, signal: request.signal }, resolve);
    req.once('error', reject);
    req.end(request.body);
  });
  let body: Readable = response;
  if (response.headers['content-encoding'] === 'gzip') {
    const { createGunzip } = await import('node:zlib');
    const gunzip = createGunzip();
    response.once('error', (err) => gunzip.destroy(err));
    body = response.pipe(gunzip);
  }
  return { status: response.statusCode ?? 0, headers: response.headers, body };
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
