/**
 * The registry gate end to end, with real parts: a tagtrust server, Debian's docker-registry as the
 * upstream, skopeo as the puller (and to push and move tags upstream), images built as OCI layouts.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, TagVerifier, startGate } from '@tagtrust/client';
import type { GateConfig, RunningGate } from '@tagtrust/client';
import { issueSelfSignedCertificate } from '@tagtrust/server';
import { CLI, publisherFor, runCli, tempHome } from './helpers/client.js';
import { buildImage, buildIndex } from './helpers/oci-image.js';
import type { BuiltManifest } from './helpers/oci-image.js';
import { pushImage, skopeo, startRegistry } from './helpers/registry.js';
import type { TestRegistry } from './helpers/registry.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

let server: TestServer;
let registry: TestRegistry;
let layout: string;
let v1: BuiltManifest;
let v2: BuiltManifest;
let unsigned: BuiltManifest;
let multi: BuiltManifest & { children: BuiltManifest[] };
const gates: RunningGate[] = [];
const logs: string[] = [];

test.before(async () => {
  [server, registry] = await Promise.all([startTestServer(), startRegistry()]);
  layout = await mkdtemp(join(tmpdir(), 'tagtrust-layout-'));
  v1 = await buildImage(layout, 'v1', 'version one');
  v2 = await buildImage(layout, 'v2', 'version two');
  unsigned = await buildImage(layout, 'unsigned', 'nobody signed this');
  multi = await buildIndex(layout, 'multi', 'multi-arch', ['amd64', 'arm64']);
  for (const image of [v1, unsigned, multi]) await pushImage(image.source, registry.host, `team/app:${image.tag}`);
  await pushImage(v1.source, registry.host, 'team/app:moving');
  const publisher = publisherFor(server.url, await tempHome());
  const gun = `${registry.host}/team/app`;
  await publisher.init(gun);
  for (const [tag, image] of [['v1', v1], ['multi', multi], ['moving', v1]] as const) {
    await publisher.sign(`${gun}:${tag}`, { digest: image.digest, size: image.size, mediaType: image.mediaType });
  }
});

test.after.always(async () => {
  await Promise.all(gates.map((gate) => gate.close()));
  await registry?.close();
  await server?.close();
});

async function gate(options: Partial<GateConfig> = {}): Promise<RunningGate> {
  const running = await startGate({
    upstream: new RegistryClient({ url: registry.url }),
    verifier: new TagVerifier({ server: server.url, home: await tempHome(), warn: () => {} }),
    listen: '127.0.0.1:0',
    log: (line) => logs.push(line),
    ...options,
  });
  gates.push(running);
  return running;
}

const hostOf = (gate: RunningGate) => new URL(gate.url).host;

/** `skopeo copy` through the gate into a fresh OCI layout; the digest of the manifest it stored. */
async function pullThrough(gate: RunningGate, reference: string, all = false): Promise<{ code: number; stderr: string; digest?: string }> {
  const out = await mkdtemp(join(tmpdir(), 'tagtrust-pulled-'));
  const result = await skopeo(['copy', ...(all ? ['--all'] : []), '--src-tls-verify=false', `docker://${hostOf(gate)}/${reference}`, `oci:${out}:pulled`]);
  if (result.code !== 0) return { code: result.code, stderr: result.stderr };
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  return { code: 0, stderr: result.stderr, digest: index.manifests[0]!.digest };
}

async function ociError(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { errors: { code: string; message: string }[] };
  return { status: response.status, code: body.errors[0]!.code, message: body.errors[0]!.message };
}

test('skopeo pulls a signed tag through the gate, with the signed digest and content type', async (t) => {
  const running = await gate();
  const pulled = await pullThrough(running, 'team/app:v1');
  t.is(pulled.code, 0, pulled.stderr);
  t.is(pulled.digest, v1.digest);
  const response = await fetch(`${running.url}/v2/team/app/manifests/v1`, { headers: { accept: v1.mediaType } });
  t.is(response.status, 200);
  t.is(response.headers.get('docker-content-digest'), v1.digest);
  t.is(response.headers.get('content-type'), v1.mediaType);
  t.deepEqual(Buffer.from(await response.arrayBuffer()), v1.bytes);
});

test('a multi-arch index and its children pass, also in strict mode', async (t) => {
  for (const running of [await gate(), await gate({ strict: true })]) {
    const pulled = await pullThrough(running, 'team/app:multi', true);
    t.is(pulled.code, 0, pulled.stderr);
    t.is(pulled.digest, multi.digest);
  }
});

test('strict mode refuses digests no signed tag reaches; the default passes them (hashed)', async (t) => {
  const strict = await gate({ strict: true });
  const refused = await ociError(await fetch(`${strict.url}/v2/team/app/manifests/${unsigned.digest}`));
  t.like(refused, { status: 403, code: 'DENIED' });
  t.regex(refused.message, /not reachable from any signed tag .* \(strict mode\)/);
  const layer = JSON.parse(unsigned.bytes.toString()).layers[0].digest as string;
  t.is((await fetch(`${strict.url}/v2/team/app/blobs/${layer}`)).status, 403);
  const signedLayer = JSON.parse(v1.bytes.toString()).layers[0].digest as string;
  t.is((await fetch(`${strict.url}/v2/team/app/blobs/${signedLayer}`)).status, 200);

  const open = await gate();
  const passed = await fetch(`${open.url}/v2/team/app/manifests/${unsigned.digest}`);
  t.is(passed.status, 200);
  t.deepEqual(Buffer.from(await passed.arrayBuffer()), unsigned.bytes);
});

test('an unsigned tag is refused with MANIFEST_UNKNOWN saying why; tags/list lists signed tags only', async (t) => {
  const running = await gate();
  const pulled = await pullThrough(running, 'team/app:unsigned');
  t.not(pulled.code, 0);
  t.regex(pulled.stderr, /manifest unknown: tagtrust gate: .*team\/app:unsigned is not signed/);
  const error = await ociError(await fetch(`${running.url}/v2/team/app/manifests/unsigned`));
  t.like(error, { status: 404, code: 'MANIFEST_UNKNOWN' });
  t.regex(error.message, /^tagtrust gate: .*team\/app:unsigned is not signed/);
  t.deepEqual(await (await fetch(`${running.url}/v2/team/app/tags/list`)).json(), { name: 'team/app', tags: ['moving', 'multi', 'v1'] });
  t.like(await ociError(await fetch(`${running.url}/v2/team/nobody/tags/list`)), { status: 404, code: 'NAME_UNKNOWN' });
});

test('a tag moved upstream: the gate serves the signed manifest, or refuses with --on-moved refuse', async (t) => {
  // The tag `moving` is signed for v1; someone with push rights moves it upstream to v2.
  await pushImage(v2.source, registry.host, 'team/app:moving');
  t.is((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/team/app:moving`])).stdout, v2.bytes.toString(), 'the upstream tag moved');

  const serving = await gate();
  const pulled = await pullThrough(serving, 'team/app:moving');
  t.is(pulled.code, 0, pulled.stderr);
  t.is(pulled.digest, v1.digest, 'the signed manifest, not the moved tag');

  const refusing = await gate({ onMoved: 'refuse' });
  const refused = await pullThrough(refusing, 'team/app:moving');
  t.not(refused.code, 0);
  t.regex(refused.stderr, /denied/i);
  const error = await ociError(await fetch(`${refusing.url}/v2/team/app/manifests/moving`));
  t.like(error, { status: 403, code: 'DENIED' });
  t.true(error.message.includes(`signed for ${v1.digest}, but the upstream tag now points to ${v2.digest}`), error.message);
  t.is((await pullThrough(refusing, 'team/app:v1')).digest, v1.digest, 'an unmoved tag still passes');
});

test('the gate is read-only: pushes are refused with 405 UNSUPPORTED', async (t) => {
  const running = await gate();
  for (const [method, path] of [['PUT', 'manifests/v1'], ['POST', 'blobs/uploads/'], ['DELETE', `manifests/${v1.digest}`], ['PATCH', 'blobs/uploads/x']] as const) {
    const error = await ociError(await fetch(`${running.url}/v2/team/app/${path}`, { method, body: method === 'DELETE' ? null : '{}' }));
    t.like(error, { status: 405, code: 'UNSUPPORTED' }, `${method} ${path}`);
  }
  const pushed = await skopeo(['copy', '--dest-tls-verify=false', v2.source, `docker://${hostOf(running)}/team/app:v1`]);
  t.not(pushed.code, 0);
  t.is((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/team/app:v1`])).stdout, v1.bytes.toString());
});

test('`tagtrust gate` serves pulls until stopped; bad flags exit 2 with one line', async (t) => {
  const child = spawn(process.execPath, [CLI, 'gate', '--upstream', registry.url, '--listen', '127.0.0.1:0', '--server', server.url, '--home', await tempHome(), '--strict'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = output.match(/listening on (http:\/\/[\d.:]+)/);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`tagtrust gate exited (${code}): ${output}`)));
    });
    const pulled = await pullThrough({ url, close: async () => {} }, 'team/app:multi', true);
    t.is(pulled.code, 0, pulled.stderr);
    t.is(pulled.digest, multi.digest);
  } finally {
    child.kill('SIGTERM');
  }
  t.is(await exited, 0, 'SIGTERM stops the gate cleanly');

  const bad = await runCli(['gate', '--upstream', registry.url, '--on-moved', 'ignore', '--server', server.url]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--on-moved "ignore" must be serve-signed or refuse/);
});

test('TLS on the listener: skopeo pulls over https, verifying the gate\'s certificate', async (t) => {
  const tls = await issueSelfSignedCertificate({ hosts: ['127.0.0.1'] });
  const running = await gate({ tls });
  t.regex(running.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const certs = await mkdtemp(join(tmpdir(), 'tagtrust-certs-'));
  await writeFile(join(certs, 'gate-ca.crt'), tls.cert);
  const out = await mkdtemp(join(tmpdir(), 'tagtrust-pulled-'));
  const pulled = await skopeo(['copy', '--src-cert-dir', certs, `docker://${hostOf(running)}/team/app:v1`, `oci:${out}:v1`]);
  t.is(pulled.code, 0, pulled.stderr);
  const untrusted = await skopeo(['inspect', '--raw', `docker://${hostOf(running)}/team/app:v1`]);
  t.not(untrusted.code, 0, 'without the CA the certificate is refused');
  t.regex(untrusted.stderr, /certificate/i);
});
