/**
 * Attacks on the gate's two inputs. A hostile upstream registry (other bytes for a signed digest, an
 * endless or silent body, a wrong blob) never gets its bytes served as the signed tag; attacks on the
 * metadata (freeze, rollback, from the attack harness) end in DENIED for the puller.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { RegistryClient, TagVerifier, startGate } from '@tagtrust/client';
import type { GateConfig, RunningGate } from '@tagtrust/client';
import { describeFile } from '@tagtrust/shared';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { HostileRegistry } from './helpers/hostile-registry.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function manifest(content: string, layers: { digest: string; size: number }[] = []): { bytes: Buffer; digest: string; size: number } {
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })), annotations: { content } }),
  );
  return { bytes, digest: sha256(bytes), size: bytes.length };
}

interface Setup {
  fx: AttackFixture;
  upstream: HostileRegistry;
  gate: RunningGate;
  logs: string[];
  get(path: string): Promise<{ status: number; code?: string; message?: string; body: Buffer }>;
}

/** The attack fixture's collection (registry.example.com/team/app) behind a gate on a hostile upstream. */
async function setup(t: ExecutionContext, options: Partial<GateConfig> = {}): Promise<Setup> {
  const fx = await attackFixture(t);
  const upstream = await HostileRegistry.start();
  const logs: string[] = [];
  const gate = await startGate({
    upstream: new RegistryClient({ url: upstream.url }),
    verifier: new TagVerifier({ server: fx.evil.url, home: fx.home, warn: () => {}, refreshIntervalMs: 0 }),
    listen: '127.0.0.1:0',
    collectionPrefix: 'registry.example.com',
    upstreamTimeoutMs: 1_000,
    log: (line) => logs.push(line),
    ...options,
  });
  t.teardown(async () => {
    await gate.close();
    await upstream.close();
  });
  const get = async (path: string) => {
    const response = await fetch(`${gate.url}/v2/team/app/${path}`);
    const body = Buffer.from(await response.arrayBuffer());
    if (response.ok) return { status: response.status, body };
    const error = (JSON.parse(body.toString()) as { errors: { code: string; message: string }[] }).errors[0]!;
    return { status: response.status, code: error.code, message: error.message, body };
  };
  return { fx, upstream, gate, logs, get };
}

/** Signs `tag` for `signed` in the simulator and makes the upstream answer its digest with `reply`. */
function signAndServe(s: Setup, tag: string, signed: ReturnType<typeof manifest>, reply: Parameters<HostileRegistry['replies']['set']>[1]): void {
  s.fx.sim.addTarget(tag, signed.digest, signed.size);
  s.fx.sim.publishTargets();
  s.upstream.replies.set(`/v2/team/app/manifests/${signed.digest}`, reply);
}

test('upstream serving other bytes for the signed digest: DENIED, and the bytes are not served', async (t) => {
  const s = await setup(t);
  const signed = manifest('signed');
  const forged = Buffer.from(signed.bytes.toString().replace('signed', 'forged'));
  signAndServe(s, 'v1', signed, { bytes: forged });
  const answer = await s.get('manifests/v1');
  t.like(answer, { status: 403, code: 'DENIED' });
  t.regex(answer.message!, /^tagtrust gate: verification failed, refusing: .*team\/app@sha256:\w+: the registry served other bytes/);
  t.false(answer.body.includes('forged'));
});

test('upstream sending an endless body: refused after signed length + 1 bytes, not read further', async (t) => {
  const s = await setup(t);
  const signed = manifest('endless');
  signAndServe(s, 'v1', signed, { endless: true });
  const answer = await s.get('manifests/v1');
  t.like(answer, { status: 403, code: 'DENIED' });
  t.regex(answer.message!, new RegExp(`sent more than the ${signed.size} bytes signed`));
  const record = s.upstream.requests.find((r) => r.path.includes(signed.digest))!;
  for (let waited = 0; !record.closed && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(record.closed, 'the gate hung up');
});

test('upstream sending headers and then nothing: refused within the upstream timeout', async (t) => {
  const s = await setup(t);
  const signed = manifest('silent');
  signAndServe(s, 'v1', signed, { silent: true });
  const answer = await s.get('manifests/v1');
  t.like(answer, { status: 403, code: 'DENIED' });
  t.regex(answer.message!, /did not answer in time/);
  const record = s.upstream.requests.find((r) => r.path.includes(signed.digest))!;
  t.true(record.closed && record.openMs! < 5_000, `the gate hung up on the silent upstream after ${record.openMs} ms (timeout 1 s)`);
});

test('a blob whose bytes do not hash to its digest: the connection is cut before the blob completes', async (t) => {
  const s = await setup(t);
  const blob = Buffer.alloc(200_000, 1);
  const digest = sha256(blob);
  s.upstream.replies.set(`/v2/team/app/blobs/${digest}`, { bytes: Buffer.alloc(200_000, 2), contentType: 'application/octet-stream' });
  const response = await fetch(`${s.gate.url}/v2/team/app/blobs/${digest}`);
  t.is(response.status, 200);
  await t.throwsAsync(response.arrayBuffer());
  t.true(s.logs.some((line) => line.includes('the upstream served other bytes; connection to the puller cut')));
  s.upstream.replies.set(`/v2/team/app/blobs/${digest}`, { bytes: blob, contentType: 'application/octet-stream' });
  t.deepEqual(Buffer.from(await (await fetch(`${s.gate.url}/v2/team/app/blobs/${digest}`)).arrayBuffer()), blob);
});

test('freeze (an expired timestamp) ends in DENIED; honest metadata serves again', async (t) => {
  const s = await setup(t);
  const signed = manifest('frozen');
  signAndServe(s, 'v1', signed, { bytes: signed.bytes });
  t.is((await s.get('manifests/v1')).status, 200);
  const { sim } = s.fx;
  sim.timestamp.version += 1;
  sim.timestamp.expires = sim.expired();
  sim.commit('timestamp');
  const answer = await s.get('manifests/v1');
  t.like(answer, { status: 403, code: 'DENIED' });
  t.regex(answer.message!, /^tagtrust gate: verification failed, refusing: timestamp v\d+ of registry\.example\.com\/team\/app expired at .*freeze attack/);
  sim.updateTimestamp();
  t.is((await s.get('manifests/v1')).status, 200);
});

test('rollback (an older snapshot behind a newer timestamp) ends in DENIED', async (t) => {
  const s = await setup(t);
  const signed = manifest('rolled back');
  signAndServe(s, 'v1', signed, { bytes: signed.bytes });
  const { sim } = s.fx;
  const oldSnapshot = { version: sim.snapshot.version, bytes: sim.fetch(`${sim.snapshot.version}.snapshot.json`)! };
  sim.publishTargets();
  t.is((await s.get('manifests/v1')).status, 200);
  sim.timestamp.version += 1;
  sim.timestamp.meta['snapshot.json'] = describeFile(oldSnapshot.bytes, oldSnapshot.version);
  sim.commit('timestamp');
  const answer = await s.get('manifests/v1');
  t.like(answer, { status: 403, code: 'DENIED' });
  t.regex(answer.message!, /verification failed, refusing: .*older than v\d+/);
});

test('blob redirects (to blob storage) are followed; the puller\'s Authorization does not leave the registry\'s origin', async (t) => {
  const s = await setup(t);
  const storage = await HostileRegistry.start();
  t.teardown(() => storage.close());
  const blob = Buffer.alloc(5_000, 3);
  const digest = sha256(blob);
  storage.replies.set('/storage/blob', { bytes: blob, contentType: 'application/octet-stream' });
  s.upstream.replies.set(`/v2/team/app/blobs/${digest}`, { redirect: `${storage.url}/storage/blob` });
  const response = await fetch(`${s.gate.url}/v2/team/app/blobs/${digest}`, { headers: { authorization: 'Bearer puller-token' } });
  t.is(response.status, 200);
  t.deepEqual(Buffer.from(await response.arrayBuffer()), blob);
  t.is(s.upstream.requests.find((r) => r.path.endsWith(digest))?.authorization, 'Bearer puller-token');
  t.is(storage.requests[0]?.authorization, undefined);
});

test('a flood of by-digest reads against a silent upstream: at most 64 upstream reads at once, the rest 429', async (t) => {
  const s = await setup(t, { upstreamTimeoutMs: 30_000 });
  const digests = Array.from({ length: 70 }, (_, i) => manifest(`flood ${i}`).digest);
  for (const digest of digests) s.upstream.replies.set(`/v2/team/app/manifests/${digest}`, { silent: true });
  // Once the 6 requests beyond the cap are refused, the upstream goes away: the 64 waiting reads fail at once.
  let refused = 0;
  const answers = await Promise.all(
    digests.map((digest) =>
      s.get(`manifests/${digest}`).then((answer) => {
        if (answer.status === 429 && ++refused === 6) void s.upstream.close();
        return answer;
      }),
    ),
  );
  const count = (status: number) => answers.filter((a) => a.status === status).length;
  t.is(count(429), 6, JSON.stringify(answers.map((a) => `${a.status} ${a.message}`)));
  t.is(count(403), 64, 'the others fail upstream');
  t.regex(answers.find((a) => a.status === 429)!.message!, /64 upstream manifest reads are already running; retry/);
});

test('strict mode: a blob the upstream announces at another size than signed, or sends past it, is refused', async (t) => {
  const s = await setup(t, { strict: true });
  const layer = Buffer.alloc(10_000, 5);
  const endlessLayer = Buffer.alloc(10_000, 6);
  const signed = manifest('strict sizes', [
    { digest: sha256(layer), size: layer.length },
    { digest: sha256(endlessLayer), size: endlessLayer.length },
  ]);
  signAndServe(s, 'v1', signed, { bytes: signed.bytes });
  s.upstream.replies.set(`/v2/team/app/blobs/${sha256(layer)}`, { bytes: Buffer.alloc(20_000, 5), contentType: 'application/octet-stream' });
  const refused = await s.get(`blobs/${sha256(layer)}`);
  t.like(refused, { status: 403, code: 'DENIED' });
  t.regex(refused.message!, /announces 20000 bytes for blob sha256:\w+, but the signed manifests say 10000/);

  s.upstream.replies.set(`/v2/team/app/blobs/${sha256(endlessLayer)}`, { endless: true });
  await t.throwsAsync(fetch(`${s.gate.url}/v2/team/app/blobs/${sha256(endlessLayer)}`).then((response) => response.arrayBuffer()));
  t.true(s.logs.some((line) => line.includes('sent more than the 10000 bytes the signed manifests give the blob')));

  s.upstream.replies.set(`/v2/team/app/blobs/${sha256(layer)}`, { bytes: layer, contentType: 'application/octet-stream' });
  t.deepEqual(Buffer.from(await (await fetch(`${s.gate.url}/v2/team/app/blobs/${sha256(layer)}`)).arrayBuffer()), layer);
});

test('a tag signed with a size larger than any manifest may be: refused without asking the upstream', async (t) => {
  const s = await setup(t);
  const digest = sha256(Buffer.from('never fetched'));
  s.fx.sim.addTarget('huge', digest, 64 * 1024 * 1024);
  s.fx.sim.publishTargets();
  const answer = await s.get('manifests/huge');
  t.like(answer, { status: 403, code: 'DENIED' });
  t.regex(answer.message!, /is signed as 67108864 bytes, more than a manifest may be/);
  t.false(s.upstream.requests.some((r) => r.path.includes(digest)));
});
