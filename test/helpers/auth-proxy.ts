/**
 * Token authentication in front of a real registry, as Docker Hub and most registries do it: requests
 * without a valid bearer token get `401` with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`;
 * the realm (`/token`) hands out a token for HTTP Basic `user:password`; requests with it are proxied to
 * the registry. Test-only credentials; node:http on 127.0.0.1 with an ephemeral port.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export const REGISTRY_USER = 'puller';
export const REGISTRY_PASSWORD = 'registry-password-for-tests';

export interface AuthProxy {
  url: string;
  host: string;
  /** Authorization headers the proxy saw on /v2/ requests (to show what the gate relayed). */
  seen: string[];
  close(): Promise<void>;
}

export async function startAuthProxy(registryUrl: string): Promise<AuthProxy> {
  const token = randomBytes(16).toString('hex');
  const seen: string[] = [];
  const basic = `Basic ${Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64')}`;
  let self = '';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (url.pathname === '/token') {
      if (req.headers.authorization !== basic) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
    }
    seen.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${token}`) {
      const name = url.pathname.match(/^\/v2\/(.+)\/(?:manifests|blobs|tags)\//)?.[1];
      const scope = name ? `,scope="repository:${name}:pull"` : '';
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer realm="${self}/token",service="test-registry"${scope}` });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    const upstream = request(`${registryUrl}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(registryUrl).host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  self = `http://${host}`;
  return {
    url: self,
    host,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
