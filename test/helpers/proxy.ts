/**
 * A man-in-the-middle for attack tests: an HTTP server on 127.0.0.1 that forwards every request to
 * a real tagtrust-server, except the paths the test overrides with its own bodies.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Proxy {
  url: string;
  /** Path suffix -> body to serve instead of the real server's answer. */
  overrides: Map<string, string>;
  close(): Promise<void>;
}

export async function startProxy(target: () => string): Promise<Proxy> {
  const overrides = new Map<string, string>();
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    for (const [suffix, body] of overrides) {
      if (path.endsWith(suffix)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
    }
    try {
      const upstream = await fetch(`${target()}${path}`, { method: req.method });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
