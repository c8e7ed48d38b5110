/**
 * Pushes through the gate (`--allow-push`), with real parts: Debian's docker-registry upstream, skopeo
 * pushing and pulling, a tagtrust server and the real CLI signing. A pushed tag is served by tag only
 * once it is signed; deletes are never relayed; bodies and silences are bounded; without the flag every
 * push is refused with a message saying how to enable it.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, TagVerifier, startGate } from '@tagtrust/client';
import type { GateConfig, RunningGate } from '@tagtrust/client';
import { CLI, publisherFor, runCli, tempHome } from './helpers/client.js';
import { HostileRegistry } from './helpers/hostile-registry.js';
import { buildImage } from './helpers/oci-image.js';
import type { BuiltManifest } from './helpers/oci-image.js';
import { skopeo, startRegistry } from './helpers/registry.js';
import type { TestRegistry } from './helpers/registry.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

let server: TestServer;
let registry: TestRegistry;
let image: BuiltManifest;
const gates: RunningGate[] = [];
const logs: string[] = [];
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test.before(async () => {
  [server, registry] = await Promise.all([startTestServer(), startRegistry()]);
  image = await buildImage(await mkdtemp(join(tmpdir(), 'tagtrust-layout-')), 'v1', 'pushed through the gate');
});

test.after.always(async () => {
  await Promise.all(gates.map((gate) => gate.close()));
  await registry?.close();
  await server?.close();
});

async function gate(options: Partial<GateConfig> = {}): Promise<RunningGate> {
  const running = await startGate({
    upstream: new RegistryClient({ url: registry.url }),
    verifier: new TagVerifier({ server: server.url, home: await tempHome(), warn: () => {}, refreshIntervalMs: 0 }),
    listen: '127.0.0.1:0',
    log: (line) => logs.push(line),
    allowPush: true,
    ...options,
  });
  gates.push(running);
  return running;
}

const hostOf = (running: RunningGate) => new URL(running.url).host;
const upstreamRaw = async (reference: string) => (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${reference}`])).stdout;

async function ociError(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { errors: { code: string; message: string }[] };
  return { status: response.status, code: body.errors[0]!.code, message: body.errors[0]!.message };
}

test('skopeo pushes through the gate; the tag is served through it only after `tagtrust sign`', async (t) => {
  const running = await gate();
  const gun = `${registry.host}/team/pushed`;
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  const pushed = await skopeo(['copy', '--dest-tls-verify=false', image.source, `docker://${hostOf(running)}/team/pushed:v1`]);
  t.is(pushed.code, 0, pushed.stderr);
  t.is(await upstreamRaw('team/pushed:v1'), image.bytes.toString(), 'the upstream has the pushed manifest');
  t.true(logs.some((line) => line.startsWith('push: PUT /v2/team/pushed/manifests/v1') && line.endsWith('HTTP 201')), 'manifest pushes are logged');

  const unsigned = await ociError(await fetch(`${running.url}/v2/team/pushed/manifests/v1`));
  t.like(unsigned, { status: 404, code: 'MANIFEST_UNKNOWN' }, 'pushing does not bypass verification');
  t.regex(unsigned.message, /team\/pushed:v1 is not signed/);

  const signed = await runCli(['sign', `${gun}:v1`, '--digest', image.digest, '--registry', registry.url, '--server', server.url, '--home', home]);
  t.is(signed.code, 0, signed.stderr);

  const out = await mkdtemp(join(tmpdir(), 'tagtrust-pulled-'));
  const pulled = await skopeo(['copy', '--src-tls-verify=false', `docker://${hostOf(running)}/team/pushed:v1`, `oci:${out}:v1`]);
  t.is(pulled.code, 0, pulled.stderr);
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  t.is(index.manifests[0]!.digest, image.digest);
});

test('`tagtrust push --registry <gate>` pushes through the gate and signs; the tag is served at once', async (t) => {
  const running = await gate();
  const gun = `${registry.host}/team/via`;
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  const layout = image.source.slice('oci:'.length);
  const pushed = await runCli(['push', layout, `${gun}:v1`, '--registry', running.url, '--server', server.url, '--home', home]);
  t.is(pushed.code, 0, pushed.stderr);
  t.is(await upstreamRaw('team/via:v1'), image.bytes.toString());
  const served = await fetch(`${running.url}/v2/team/via/manifests/v1`, { headers: { accept: image.mediaType } });
  t.is(served.status, 200);
  t.is(served.headers.get('docker-content-digest'), image.digest);
});

test('strict mode: pushers are told an unreachable blob is unknown (HEAD), so they upload it; reads of it stay refused', async (t) => {
  const running = await gate({ strict: true });
  await publisherFor(server.url, await tempHome()).init(`${registry.host}/team/strict`);
  const pushed = await skopeo(['copy', '--dest-tls-verify=false', image.source, `docker://${hostOf(running)}/team/strict:v1`]);
  t.is(pushed.code, 0, pushed.stderr);
  const layer = (JSON.parse(image.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
  t.is((await fetch(`${running.url}/v2/team/strict/blobs/${layer}`, { method: 'HEAD' })).status, 404);
  t.true(logs.some((line) => line.startsWith(`HEAD /v2/team/strict/blobs/${layer}: BLOB_UNKNOWN`)));
  t.like(await ociError(await fetch(`${running.url}/v2/team/strict/blobs/${layer}`)), { status: 403, code: 'DENIED' });
});

test('raw OCI pushes: monolithic, chunked, upload status, cross-repository mount, manifest PUT; Locations point at the gate', async (t) => {
  const running = await gate();
  const base = `${running.url}/v2/team/raw`;
  const monolithic = Buffer.from('one PUT, whole blob');
  const session = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
  const whole = await fetch(`${running.url}${session.headers.get('location')}&digest=${sha256(monolithic)}`, { method: 'PUT', body: monolithic, headers: { 'content-type': 'application/octet-stream' } });
  t.is(whole.status, 201);
  t.is(whole.headers.get('location'), `/v2/team/raw/blobs/${sha256(monolithic)}`, 'the upstream Location, on the gate');

  const chunks = [Buffer.from('first chunk, '), Buffer.from('second chunk')];
  const blob = Buffer.concat(chunks);
  const started = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
  t.is(started.status, 202);
  let location = started.headers.get('location')!;
  t.regex(location, /^\/v2\/team\/raw\/blobs\/uploads\/[\w-]+\?/);
  t.false(location.includes(registry.host));
  let offset = 0;
  for (const chunk of chunks) {
    const patched = await fetch(`${running.url}${location}`, {
      method: 'PATCH',
      body: chunk,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
    });
    t.is(patched.status, 202);
    offset += chunk.length;
    t.is(patched.headers.get('range'), `0-${offset - 1}`);
    location = patched.headers.get('location')!;
  }
  const status = await fetch(`${running.url}${location}`);
  t.is(status.status, 204, 'upload status');
  const finished = await fetch(`${running.url}${location}${location.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, { method: 'PUT' });
  t.is(finished.status, 201);
  t.is(finished.headers.get('docker-content-digest'), sha256(blob));
  t.deepEqual(Buffer.from(await (await fetch(`${base}/blobs/${sha256(blob)}`)).arrayBuffer()), blob, 'the chunked blob reads back whole');

  const mounted = await fetch(`${running.url}/v2/team/other/blobs/uploads/?mount=${sha256(blob)}&from=team/raw`, { method: 'POST' });
  t.is(mounted.status, 201, 'cross-repository mount');
  t.is(mounted.headers.get('location'), `/v2/team/other/blobs/${sha256(blob)}`);

  const config = Buffer.from('{}');
  const configSession = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
  t.is((await fetch(`${running.url}${configSession.headers.get('location')}&digest=${sha256(config)}`, { method: 'PUT', body: config })).status, 201);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(blob), size: blob.length }],
    }),
  );
  const put = await fetch(`${base}/manifests/raw`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  t.is(put.status, 201);
  t.is(put.headers.get('docker-content-digest'), sha256(manifest));
  t.is(put.headers.get('location'), `/v2/team/raw/manifests/${sha256(manifest)}`);
  t.is(await upstreamRaw('team/raw:raw'), manifest.toString());
});

test('deletes are never relayed, even with --allow-push; the upstream keeps the content', async (t) => {
  const running = await gate();
  const pushed = await skopeo(['copy', '--dest-tls-verify=false', image.source, `docker://${hostOf(running)}/team/kept:v1`]);
  t.is(pushed.code, 0, pushed.stderr);
  const layer = (JSON.parse(image.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
  for (const path of [`manifests/${image.digest}`, 'manifests/v1', `blobs/${layer}`]) {
    const error = await ociError(await fetch(`${running.url}/v2/team/kept/${path}`, { method: 'DELETE' }));
    t.like(error, { status: 403, code: 'DENIED' }, path);
    t.regex(error.message, /^tagtrust gate: DELETE is refused: the gate never relays deletes/);
  }
  t.is(await upstreamRaw('team/kept:v1'), image.bytes.toString());
  t.is((await fetch(`${registry.url}/v2/team/kept/blobs/${layer}`)).status, 200);
});

test('bounded: an oversized manifest or upload is refused, a silent pusher is cut, odd paths are not relayed', async (t) => {
  const running = await gate({ maxUploadBytes: 64 * 1024, upstreamTimeoutMs: 1_000 });
  const bigManifest = await fetch(`${running.url}/v2/team/big/manifests/v1`, { method: 'PUT', body: Buffer.alloc(4 * 1024 * 1024 + 1, 32) });
  t.like(await ociError(bigManifest), { status: 413, code: 'SIZE_INVALID' });
  t.not((await upstreamRaw('team/big:v1')).length > 0, true, 'nothing reached the upstream');

  // Announced too large: refused before the upstream is asked.
  const announced = await fetch(`${running.url}/v2/team/big/blobs/uploads/?digest=${sha256(Buffer.alloc(65 * 1024))}`, { method: 'POST', body: Buffer.alloc(65 * 1024) });
  t.like(await ociError(announced), { status: 413, code: 'SIZE_INVALID' });
  // Not announced (chunked), running past the limit: cut, and the upstream does not get the blob.
  const session = async () => (await fetch(`${running.url}/v2/team/big/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
  const endless = Buffer.alloc(65 * 1024, 1);
  const streamed = await rawRequest(running, 'PUT', `${await session()}&digest=${sha256(endless)}`, (req) => {
    req.write(endless.subarray(0, 40 * 1024));
    req.end(endless.subarray(40 * 1024));
  });
  t.true(streamed.status === 413 || streamed.status === 0, `status ${streamed.status}`);
  t.is((await fetch(`${registry.url}/v2/team/big/blobs/${sha256(endless)}`, { method: 'HEAD' })).status, 404);

  // A pusher that announces 100 bytes, sends 10 and goes silent: cut after the timeout.
  const t0 = Date.now();
  const silent = await rawRequest(running, 'PATCH', await session(), (req) => req.write(Buffer.alloc(10)), { 'content-length': '100' });
  t.true(Date.now() - t0 < 10_000, 'cut well before any client timeout');
  t.true(silent.status === 503 || silent.status === 0, `status ${silent.status}`);
  t.true(logs.some((line) => /PATCH .*UNAVAILABLE: .*the pusher sent nothing, or the upstream took nothing, for 1000 ms/.test(line)));

  for (const [method, path] of [
    ['PATCH', '/v2/team/big/blobs/uploads/..%2F..%2Fmanifests%2Fv1'],
    ['POST', '/v2/team/big/manifests/v1'],
    ['PUT', '/v2/team/big/tags/list'],
    ['PUT', '/v2/team/big/manifests/sha512:abc'],
  ] as const) {
    const error = await ociError(await fetch(`${running.url}${path}`, { method, body: '{}' }));
    t.like(error, { status: 405, code: 'UNSUPPORTED' }, `${method} ${path}`);
  }
});

test('a hostile upstream answering a push endlessly or going silent: 503 UNAVAILABLE, bounded in bytes and time', async (t) => {
  const hostile = await HostileRegistry.start();
  t.teardown(() => hostile.close());
  const running = await gate({ upstream: new RegistryClient({ url: hostile.url }), upstreamTimeoutMs: 1_000 });
  hostile.replies.set('/v2/team/app/blobs/uploads/', { endless: true });
  hostile.replies.set('/v2/team/app/manifests/v1', { silent: true });

  const endless = await ociError(await fetch(`${running.url}/v2/team/app/blobs/uploads/`, { method: 'POST' }));
  t.like(endless, { status: 503, code: 'UNAVAILABLE' });
  t.regex(endless.message, /the upstream answered with more than 65536 bytes; refusing to relay it/);
  const record = hostile.requests.find((r) => r.path === '/v2/team/app/blobs/uploads/')!;
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.true(record.closed && record.bytesSent < 4 * 1024 * 1024, `the gate stopped reading (${record.bytesSent} bytes sent)`);

  const t0 = Date.now();
  const silent = await ociError(await fetch(`${running.url}/v2/team/app/manifests/v1`, { method: 'PUT', body: image.bytes, headers: { 'content-type': image.mediaType } }));
  t.like(silent, { status: 503, code: 'UNAVAILABLE' });
  t.regex(silent.message, /the upstream did not finish its answer for 1000 ms; try again/);
  t.true(Date.now() - t0 < 5_000);
});

test('without --allow-push every push is refused, saying how to enable pushes; the flag cannot go with gate credentials', async (t) => {
  const running = await gate({ allowPush: false });
  const error = await ociError(await fetch(`${running.url}/v2/team/app/blobs/uploads/`, { method: 'POST' }));
  t.like(error, { status: 405, code: 'UNSUPPORTED' });
  t.regex(error.message, /the gate is read-only; start it with --allow-push/);
  const pushed = await skopeo(['copy', '--dest-tls-verify=false', image.source, `docker://${hostOf(running)}/team/refused:v1`]);
  t.not(pushed.code, 0);
  t.regex(pushed.stderr, /read-only; start it with --allow-push/);
  t.is(await upstreamRaw('team/refused:v1'), '');

  await t.throwsAsync(gate({ upstream: new RegistryClient({ url: registry.url, credentials: { username: 'u', password: 'p' } }), relayAuthorization: false }), { message: /--allow-push cannot be combined with --upstream-credentials/ });
  const credentials = join(await mkdtemp(join(tmpdir(), 'tagtrust-creds-')), 'upstream.creds');
  await writeFile(credentials, 'gate-user:gate-password\n');
  const cli = await runCli(['gate', '--upstream', registry.url, '--allow-push', '--upstream-credentials', credentials, '--server', server.url]);
  t.is(cli.code, 2);
  t.regex(cli.stderr, /--allow-push cannot be combined with --upstream-credentials/);
  t.false(cli.stderr.includes('gate-password'));
  const noPush = await runCli(['gate', '--upstream', registry.url, '--push-max-mb', '5', '--server', server.url]);
  t.is(noPush.code, 2);
  t.regex(noPush.stderr, /--push-max-mb applies to pushes: give --allow-push too/);
});

test('`tagtrust gate --allow-push` relays a skopeo push until stopped', async (t) => {
  const child = spawn(process.execPath, [CLI, 'gate', '--upstream', registry.url, '--listen', '127.0.0.1:0', '--server', server.url, '--home', await tempHome(), '--allow-push', '--push-max-mb', '16'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = output.match(/listening on (http:\/\/[\d.:]+), .*pushes relayed/);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`tagtrust gate exited (${code}): ${output}`)));
    });
    const pushed = await skopeo(['copy', '--dest-tls-verify=false', image.source, `docker://${new URL(url).host}/team/cli:v1`]);
    t.is(pushed.code, 0, pushed.stderr);
    t.is(await upstreamRaw('team/cli:v1'), image.bytes.toString());
  } finally {
    child.kill('SIGTERM');
  }
  t.is(await exited, 0);
});

/** One request written by `write` (it may leave the body unfinished); status 0 when the gate cut the connection. */
function rawRequest(running: RunningGate, method: string, path: string, write: (req: ReturnType<typeof request>) => void, headers: Record<string, string> = {}): Promise<{ status: number }> {
  return new Promise((resolve) => {
    const req = request(`${running.url}${path}`, { method, headers: { 'content-type': 'application/octet-stream', ...headers } }, (res) => {
      res.resume();
      res.once('end', () => {
        resolve({ status: res.statusCode ?? 0 });
        req.destroy();
      });
    });
    req.once('error', () => resolve({ status: 0 }));
    write(req);
  });
}
