/**
 * An HTTP proxy on 127.0.0.1 in front of a real tagtrust-server, for tests:
 * - it records every forwarded request (method, path, body, response size, time), to check what a
 *   client uploads and downloads (e.g. that publishing into a hashed bin sends only that bin);
 * - as a man-in-the-middle it serves `overrides` (path suffix -> body) instead of the real answer.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: Buffer;
  responseBytes: number;
  status: number;
  /** From forwarding the request to the complete answer (server time plus loopback transfer). */
  durationMs: number;
}

export interface Proxy {
  url: string;
  /** Path suffix -> body to serve instead of the real server's answer (not recorded). */
  overrides: Map<string, string>;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** @param target the server's URL, or a function giving it (for servers that restart on a new port) */
export async function startProxy(target: string | (() => string)): Promise<Proxy> {
  const upstreamUrl = typeof target === 'string' ? () => target : target;
  const overrides = new Map<string, string>();
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
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const started = performance.now();
    try {
      const upstream = await fetch(`${upstreamUrl()}${path}`, { method: req.method, headers, ...(body.length > 0 ? { body } : {}) });
      const answer = Buffer.from(await upstream.arrayBuffer());
      requests.push({ method: req.method ?? 'GET', path, body, responseBytes: answer.length, status: upstream.status, durationMs: performance.now() - started });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(answer);
    } catch {
      res.writeHead(502);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    overrides,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
