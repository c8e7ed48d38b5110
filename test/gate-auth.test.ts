/**
 * The gate in front of a registry that requires token authentication (a token service in front of
 * Debian's docker-registry): it relays the upstream's challenge and the puller's credentials, never
 * serves a manifest a puller without credentials could not read upstream, or logs in itself with
 * configured credentials.
 */
import test from 'ava';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, TagVerifier, startGate } from '@tagtrust/client';
import type { GateConfig, RunningGate } from '@tagtrust/client';
import { publisherFor, tempHome } from './helpers/client.js';
import { REGISTRY_PASSWORD, REGISTRY_USER, startAuthProxy } from './helpers/auth-proxy.js';
import type { AuthProxy } from './helpers/auth-proxy.js';
import { buildImage } from './helpers/oci-image.js';
import type { BuiltManifest } from './helpers/oci-image.js';
import { pushImage, skopeo, startRegistry } from './helpers/registry.js';
import type { TestRegistry } from './helpers/registry.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

let server: TestServer;
let registry: TestRegistry;
let proxy: AuthProxy;
let image: BuiltManifest;
const gates: RunningGate[] = [];

test.before(async () => {
  [server, registry] = await Promise.all([startTestServer(), startRegistry()]);
  proxy = await startAuthProxy(registry.url);
  image = await buildImage(await mkdtemp(join(tmpdir(), 'tagtrust-layout-')), 'v1', 'private image');
  await pushImage(image.source, registry.host, 'team/private:v1');
  const publisher = publisherFor(server.url, await tempHome());
  const gun = `registry.example.com/team/private`;
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: image.digest, size: image.size, mediaType: image.mediaType });
});

test.after.always(async () => {
  await Promise.all(gates.map((gate) => gate.close()));
  await proxy?.close();
  await registry?.close();
  await server?.close();
});

async function gate(options: Partial<GateConfig> = {}): Promise<RunningGate> {
  const running = await startGate({
    upstream: new RegistryClient({ url: proxy.url }),
    verifier: new TagVerifier({ server: server.url, home: await tempHome(), warn: () => {} }),
    listen: '127.0.0.1:0',
    collectionPrefix: 'registry.example.com',
    log: () => {},
    ...options,
  });
  gates.push(running);
  return running;
}

async function pull(running: RunningGate, creds?: string): Promise<{ code: number; stderr: string; digest?: string }> {
  const out = await mkdtemp(join(tmpdir(), 'tagtrust-pulled-'));
  const host = new URL(running.url).host;
  const result = await skopeo(['copy', '--src-tls-verify=false', ...(creds ? ['--src-creds', creds] : []), `docker://${host}/team/private:v1`, `oci:${out}:v1`]);
  if (result.code !== 0) return result;
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  return { ...result, digest: index.manifests[0]!.digest };
}

test('relay: the upstream challenge reaches the puller, whose token reaches the upstream', async (t) => {
  const running = await gate();
  const anonymous = await pull(running);
  t.not(anonymous.code, 0);
  t.regex(anonymous.stderr, /unauthorized|authentication required/i);

  const pulled = await pull(running, `${REGISTRY_USER}:${REGISTRY_PASSWORD}`);
  t.is(pulled.code, 0, pulled.stderr);
  t.is(pulled.digest, image.digest);
  t.true(proxy.seen.some((authorization) => authorization.startsWith('Bearer ')), 'the puller token was relayed');

  // The manifest is now cached, but only for that token: an anonymous request gets the challenge.
  const again = await fetch(`${running.url}/v2/team/private/manifests/v1`);
  t.is(again.status, 401);
  t.regex(again.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="test-registry",scope="repository:team\/private:pull"$/);
  const base = await fetch(`${running.url}/v2/`);
  t.is(base.status, 401, 'GET /v2/ relays the challenge too');
});

test('gate credentials: the gate logs in itself and pullers need none', async (t) => {
  const running = await gate({
    upstream: new RegistryClient({ url: proxy.url, credentials: { username: REGISTRY_USER, password: REGISTRY_PASSWORD } }),
    relayAuthorization: false,
  });
  const pulled = await pull(running);
  t.is(pulled.code, 0, pulled.stderr);
  t.is(pulled.digest, image.digest);

  const wrong = await gate({ upstream: new RegistryClient({ url: proxy.url, credentials: { username: REGISTRY_USER, password: 'wrong' } }), relayAuthorization: false });
  const response = await fetch(`${wrong.url}/v2/team/private/manifests/v1`);
  const body = (await response.json()) as { errors: { code: string; message: string }[] };
  t.is(response.status, 401);
  t.regex(body.errors[0]!.message, /token service http:\/\/127\.0\.0\.1:\d+ refused the configured credentials \(HTTP 401\)/);
  t.false(JSON.stringify(body).includes('wrong'), 'no secret in the answer');
});

test('pushes (--allow-push) relay the challenge and the pusher\'s token the same way', async (t) => {
  const running = await gate({ allowPush: true });
  const host = new URL(running.url).host;
  const refused = await fetch(`${running.url}/v2/team/pushed/blobs/uploads/`, { method: 'POST' });
  t.is(refused.status, 401);
  t.regex(refused.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="test-registry",scope="repository:team\/pushed:pull"$/);
  const anonymous = await skopeo(['copy', '--dest-tls-verify=false', image.source, `docker://${host}/team/pushed:v1`]);
  t.not(anonymous.code, 0);

  const seen = proxy.seen.length;
  const pushed = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${REGISTRY_USER}:${REGISTRY_PASSWORD}`, image.source, `docker://${host}/team/pushed:v1`]);
  t.is(pushed.code, 0, pushed.stderr);
  t.true(proxy.seen.slice(seen).some((authorization) => authorization.startsWith('Bearer ')), 'the pusher token was relayed');
  t.is((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/team/pushed:v1`])).stdout, image.bytes.toString());
});
