/**
 * Hashed bins (TAP 15 hashed-bin delegations): the server checks a bin's tags against its
 * path_hash_prefixes; `enableBins` moves a flat collection into bins atomically; signing into a
 * binned collection re-signs only the tag's bin. All against the real server.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { generateKeyPair, signMetadata } from '@tagtrust/keys';
import { buildTargets, expiresAfter, tufBasePath } from '@tagtrust/shared';
import type { Metadata, SnapshotSigned, TargetsSigned } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { startProxy } from './helpers/proxy.js';
import { readHistory } from '@tagtrust/client';

const GUN = 'registry.example.com/team/app';
const DAY = 24 * 3600_000;
const hashOf = (name: string) => createHash('sha256').update(name).digest('hex');

/** The first `count` tags `t<i>` whose name hash starts (or, with `inside` false, does not start) with `prefix`. */
function tagsWithPrefix(prefix: string, inside: boolean, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i += 1) if (hashOf(`${GUN}:t${i}`).startsWith(prefix) === inside) out.push(`t${i}`);
  return out;
}

async function publish(server: TestServer | { url: string }, body: unknown): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const response = await fetch(`${server.url}${tufBasePath(GUN)}/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as never };
}

async function snapshotMeta(url: string): Promise<SnapshotSigned['meta']> {
  const response = await fetch(`${url}${tufBasePath(GUN)}/snapshot.json`);
  return ((await response.json()) as Metadata<SnapshotSigned>).signed.meta;
}

test('a bin signs only names whose sha256 starts with its prefix: the server refuses others', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const binKey = await generateKeyPair();
  const enabled = await owner.enableBins(GUN, { bins: 16, key: binKey.publicKey });
  t.like(enabled, { bins: 16, moved: 0, targetsVersion: 2 });

  const expires = expiresAfter(new Date(), 30 * DAY);
  const entry = { length: 10, hashes: { sha256: 'a'.repeat(64) } };
  const [inside] = tagsWithPrefix('0', true, 1);
  const [outside] = tagsWithPrefix('0', false, 1);
  const refused = await publish(server, {
    'targets/bin-0': signMetadata(buildTargets(1, expires, { [`${GUN}:${inside}`]: entry, [`${GUN}:${outside}`]: entry }), [binKey]),
  });
  t.is(refused.status, 400);
  t.is(refused.body.error?.code, 'SUBSTITUTION');
  t.regex(refused.body.error!.message, /targets\/bin-0 may not sign .* outside the paths delegated to targets\/bin-0 \(names whose sha256 starts with 0\)/);

  const accepted = await publish(server, { 'targets/bin-0': signMetadata(buildTargets(1, expires, { [`${GUN}:${inside}`]: entry }), [binKey]) });
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:${inside}`)).digest, `sha256:${'a'.repeat(64)}`);

  // Malformed prefixes are refused in the delegation itself.
  const bad = await publish(server, {
    'targets/bin-1': signMetadata({ ...buildTargets(1, expires, {}), delegations: { keys: { [binKey.keyId]: binKey.publicKey }, roles: [{ name: 'targets/bin-1/x', keyids: [binKey.keyId], threshold: 1, terminating: false, path_hash_prefixes: ['G'] }] } }, [binKey]),
  });
  t.is(bad.body.error?.code, 'INVALID_INPUT', bad.body.error?.message);
  t.regex(bad.body.error!.message, /path hash prefix "G" must be 1 to 64 lowercase hex characters/);
});

test('enableBins moves every tag into its bin in one publish; tags keep resolving; a sign re-signs only its bin', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const proxy = await startProxy(server.url);
  t.teardown(() => proxy.close());
  const owner = publisherFor(proxy.url, await tempHome());
  await owner.init(GUN);
  const tags = Array.from({ length: 40 }, (_, i) => `v${i}`);
  for (const [i, tag] of tags.entries()) await owner.sign(`${GUN}:${tag}`, { digest: digestOf((i % 10).toString()), size: 100 + i });

  const before = proxy.requests.length;
  const enabled = await owner.enableBins(GUN, { bins: 16 });
  t.like(enabled, { gun: GUN, bins: 16, moved: 40 });
  const posts = proxy.requests.slice(before).filter((r) => r.method === 'POST');
  t.is(posts.length, 1, 'one atomic publish');
  const body = JSON.parse(posts[0]!.body.toString('utf8')) as Record<string, Metadata<TargetsSigned>>;
  t.deepEqual(Object.keys(body).sort(), ['targets', ...Array.from({ length: 16 }, (_, i) => `targets/bin-${i.toString(16)}`)].sort());
  t.deepEqual(body.targets!.signed.targets, {});

  const puller = pullerFor(server.url, await tempHome());
  for (const [i, tag] of tags.entries()) t.is((await puller.resolve(`${GUN}:${tag}`)).digest, digestOf((i % 10).toString()), tag);
  const listed = await puller.list(GUN);
  t.is(listed.length, 40);
  for (const tag of listed) t.is(tag.signedBy, `targets/bin-${hashOf(tag.reference)[0]}`);

  // Signing a new tag changes only its bin (plus snapshot/timestamp, signed by the server).
  const metaBefore = await snapshotMeta(server.url);
  const mark = proxy.requests.length;
  const signed = await owner.sign(`${GUN}:new`, { digest: digestOf('f'), size: 7 });
  const bin = `targets/bin-${hashOf(`${GUN}:new`)[0]}`;
  t.is(signed.role, bin);
  const signPosts = proxy.requests.slice(mark).filter((r) => r.method === 'POST');
  t.is(signPosts.length, 1);
  t.deepEqual(Object.keys(JSON.parse(signPosts[0]!.body.toString('utf8'))), [bin]);
  // Only that bin was downloaded among the delegated roles.
  const downloadedBins = proxy.requests.slice(mark).filter((r) => r.method === 'GET' && r.path.includes('bin-')).map((r) => r.path);
  t.true(downloadedBins.every((p) => p.includes(encodeURIComponent(bin))), downloadedBins.join(' '));
  const metaAfter = await snapshotMeta(server.url);
  const changed = Object.keys(metaAfter).filter((file) => metaAfter[file]!.version !== metaBefore[file]?.version);
  t.deepEqual(changed, [`${bin}.json`]);
  t.is((await puller.resolve(`${GUN}:new`)).digest, digestOf('f'));

  // Unsign goes to the bin too; a re-sign of an existing tag moves it inside its bin.
  const unsigned = await owner.unsign(`${GUN}:v3`);
  t.is(unsigned.role, `targets/bin-${hashOf(`${GUN}:v3`)[0]}`);
  await t.throwsAsync(puller.resolve(`${GUN}:v3`), { name: 'NotSignedError' });
  await owner.sign(`${GUN}:v4`, { digest: digestOf('e'), size: 9 });
  t.is((await puller.resolve(`${GUN}:v4`)).digest, digestOf('e'));

  // A tag signed into the top-level targets explicitly stays there (it would shadow its bin).
  t.is((await owner.sign(`${GUN}:top`, { digest: digestOf('1'), size: 1 }, { role: 'targets' })).role, 'targets');
  t.is((await owner.sign(`${GUN}:top`, { digest: digestOf('2'), size: 1 })).role, 'targets');
  t.is((await puller.resolve(`${GUN}:top`)).digest, digestOf('2'));
  t.is((await owner.unsign(`${GUN}:top`)).role, 'targets');

  await t.throwsAsync(owner.enableBins(GUN), { message: /already uses hashed bins/ });
});

test('cli: tagtrust bins enable, then sign and list go through the bins', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome(), TAGTRUST_BINS_PASSPHRASE: 'bins-passphrase-for-tests' };
  t.is((await runCli(['init', GUN], env)).code, 0);
  t.is((await runCli(['sign', `${GUN}:v1`, '--digest', digestOf('a'), '--size', '10'], env)).code, 0);
  const enable = await runCli(['bins', 'enable', GUN, '--bins', '16'], env);
  t.is(enable.code, 0, enable.stderr);
  t.regex(enable.stdout, /^Moved 1 tag of registry\.example\.com\/team\/app into 16 hashed bins \(targets v3\)\nBin key: [0-9a-f]{8} \(.*\.key\)\n$/);
  const sign = await runCli(['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '10'], env);
  t.is(sign.code, 0, sign.stderr);
  t.is(sign.stdout, `Signed ${GUN}:v2 -> ${digestOf('b')} (targets/bin-${hashOf(`${GUN}:v2`)[0]} v2)\n`);
  const list = await runCli(['list', GUN], env);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /v1/);
  t.regex(list.stdout, /v2/);
  const bad = await runCli(['bins', 'enable', GUN, '--bins', '100'], env);
  t.not(bad.code, 0);
});

test('sign moves a flat collection over the bins threshold into bins first; every tag keeps resolving', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const warnings: string[] = [];
  const owner = publisherFor(server.url, await tempHome(), { binsThreshold: 5, warn: (m) => warnings.push(m) });
  await owner.init(GUN);
  for (let i = 0; i < 5; i += 1) t.is((await owner.sign(`${GUN}:v${i}`, { digest: digestOf('a'), size: 10 + i })).role, 'targets');
  // Re-signing an existing tag does not grow the collection: still flat.
  t.is((await owner.sign(`${GUN}:v0`, { digest: digestOf('b'), size: 10 })).role, 'targets');
  const sixth = await owner.sign(`${GUN}:v5`, { digest: digestOf('c'), size: 15 });
  t.is(sixth.role, `targets/bin-${hashOf(`${GUN}:v5`).slice(0, 2)}`);
  t.regex(warnings.join('\n'), /holds 5 tags, over the hashed bins threshold of 5: moved them into 256 bins/);
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:v0`)).digest, digestOf('b'));
  t.is((await puller.resolve(`${GUN}:v5`)).digest, digestOf('c'));
  t.is((await puller.list(GUN)).length, 6);

  // Off with 0; a role given explicitly is never redirected.
  const flat = publisherFor(server.url, await tempHome(), { binsThreshold: 0 });
  const other = 'registry.example.com/team/other';
  await flat.init(other);
  for (let i = 0; i < 7; i += 1) t.is((await flat.sign(`${other}:v${i}`, { digest: digestOf('a'), size: 10 })).role, 'targets');
});

test('concurrent signers into a binned collection lose no tag (bins and snapshot races are retried)', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  await owner.enableBins(GUN, { bins: 16 });
  const signers = [publisherFor(server.url, home), publisherFor(server.url, home), publisherFor(server.url, home)];
  await Promise.all(
    signers.map(async (signer, s) => {
      for (let i = 0; i < 6; i += 1) await signer.sign(`${GUN}:s${s}-${i}`, { digest: digestOf(String(s)), size: 10 + i });
    }),
  );
  const listed = await pullerFor(server.url, await tempHome()).list(GUN);
  t.is(listed.length, 18);
  for (const tag of listed) t.is(tag.signedBy, `targets/bin-${hashOf(tag.reference)[0]}`);
});

test('history: moving tags into bins records no tag change; signing into a bin records the tag', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  await owner.enableBins(GUN, { bins: 16 });
  await owner.sign(`${GUN}:v1`, { digest: digestOf('b'), size: 10 });
  await owner.sign(`${GUN}:v2`, { digest: digestOf('c'), size: 10 });
  await owner.unsign(`${GUN}:v2`);
  const all = await readHistory(GUN, { server: server.url, home });
  const migration = all.find((r) => r.versions?.['targets/bin-0'] === 1)!;
  t.deepEqual(migration.tags ?? [], []);
  const v1 = await readHistory(`${GUN}:v1`, { server: server.url, home });
  t.deepEqual(v1.map((r) => r.tags!.map((c) => [c.tag, c.change])), [[['v1', 'added']], [['v1', 'moved']]]);
  const v2 = await readHistory(`${GUN}:v2`, { server: server.url, home });
  t.deepEqual(v2.map((r) => r.tags!.map((c) => c.change)), [['added'], ['removed']]);
});
