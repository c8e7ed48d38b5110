/**
 * A transparent HTTP proxy on 127.0.0.1 in front of a real tagtrust-server that records every
 * request: method, path, request body and response size. Used to check what a client uploads and
 * downloads (e.g. that publishing into a hashed bin sends only that bin).
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

export interface RecordingProxy {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
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
      const upstream = await fetch(`${target}${req.url ?? '/'}`, {
        method: req.method,
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const answer = Buffer.from(await upstream.arrayBuffer());
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', body, responseBytes: answer.length, status: upstream.status, durationMs: performance.now() - started });
      const out: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
      res.writeHead(upstream.status, out);
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
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
