/**
 * An HTTP proxy on 127.0.0.1 in front of a real tagtrust-server, for tests:
 * - it records every forwarded request (method, path, body, response size, time), to check what a
 *   client uploads and downloads (e.g. that publishing into a hashed bin sends only that bin);
 *   responses pass through as the server sent them (gzip when the client asked for it), so
 *   `responseBytes` counts the body bytes on the wire;
 * - as a man-in-the-middle it serves `overrides` (path suffix -> body) instead of the real answer;
 * - as a failing load balancer it answers `failures` (path suffix -> HTTP status) with an HTML error page.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: Buffer;
  /** Response body bytes as sent (compressed when the server compressed them). */
  responseBytes: number;
  status: number;
  /** From forwarding the request to the complete answer (server time plus loopback transfer). */
  durationMs: number;
}

export interface Proxy {
  url: string;
  /** Path suffix -> body to serve instead of the real server's answer (not recorded). */
  overrides: Map<string, string>;
  /** Path suffix -> HTTP status to answer, with an HTML page, instead of forwarding (not recorded). */
  failures: Map<string, number>;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** @param target the server's URL, or a function giving it (for servers that restart on a new port) */
export async function startProxy(target: string | (() => string)): Promise<Proxy> {
  const upstreamUrl = typeof target === 'string' ? () => target : target;
  const overrides = new Map<string, string>();
  const failures = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    for (const [suffix, body] of overrides) {
      if (path.endsWith(suffix)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
    }
    for (const [suffix, status] of failures) {
      if (path.endsWith(suffix)) {
        res.writeHead(status, { 'content-type': 'text/html' });
        res.end(`<html><body><h1>${status}</h1>nginx</body></html>`);
        return;
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept', 'accept-encoding', 'if-none-match']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (body.length > 0) headers['content-length'] = String(body.length);
    const started = performance.now();
    const upstream = request(`${upstreamUrl()}${path}`, { method: req.method, headers }, (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => parts.push(chunk));
      answer.on('end', () => {
        const bytes = Buffer.concat(parts);
        const status = answer.statusCode ?? 502;
        requests.push({ method: req.method ?? 'GET', path, body, responseBytes: bytes.length, status, durationMs: performance.now() - started });
        const forwarded: Record<string, string> = { 'content-type': answer.headers['content-type'] ?? 'application/json' };
        for (const name of ['content-encoding', 'etag', 'cache-control', 'vary']) {
          const value = answer.headers[name];
          if (typeof value === 'string') forwarded[name] = value;
        }
        res.writeHead(status, forwarded);
        res.end(bytes);
      });
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    upstream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    overrides,
    failures,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
