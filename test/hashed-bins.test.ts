/**
 * Hashed bins as TUF succinct delegations (TAP 15 `succinct_roles`): naming agrees with
 * @tufjs/models; the server verifies every published bin against the layout the top-level targets
 * delegates; `enableBins` moves a flat collection into bins, or re-bins, atomically; signing re-signs
 * only the tag's bin; tuf-js's own Updater resolves binned tags and reuses cached bins. All against
 * the real server.
 */
import test from 'ava';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { SuccinctRoles } from '@tufjs/models/dist/role.js';
import type { KeyPair } from '@tagtrust/keys';
import { generateKeyPair, signMetadata } from '@tagtrust/keys';
import { binIndexOfRole, binRoleForTarget, binRoleNames, buildTargets, expiresAfter, targetNameHash, tufBasePath } from '@tagtrust/shared';
import type { ErrorCode, Metadata, SnapshotSigned, TargetsSigned } from '@tagtrust/shared';
import { readHistory } from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { apiError, collectionKeys, getTufFile, latestMetadata, publishRaw, servedState, assertUnchanged } from './helpers/metadata.js';
import { startProxy } from './helpers/proxy.js';
import { binnedCollection } from './helpers/bins.js';

const GUN = 'registry.example.com/team/app';
const DAY = 24 * 3600_000;
/** The bin (of 16, bit_length 4) of a tag: the first hex digit of the sha256 of its name. */
const bin16 = (tag: string) => `bins-${targetNameHash(`${GUN}:${tag}`)[0]}`;

/** The first `count` tags `t<i>` that fall (or, with `inside` false, do not fall) into bin `index` of 16. */
function tagsInBin(index: number, inside: boolean, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i += 1) if ((bin16(`t${i}`) === `bins-${index.toString(16)}`) === inside) out.push(`t${i}`);
  return out;
}

async function snapshotMeta(url: string): Promise<SnapshotSigned['meta']> {
  return (await latestMetadata<Metadata<SnapshotSigned>>(url, GUN, 'snapshot')).signed.meta;
}


test('bin names and the bin of a name agree with @tufjs/models SuccinctRoles for every bit_length', (t) => {
  for (let bits = 1; bits <= 14; bits += 1) {
    const theirs = new SuccinctRoles({ keyIDs: [], threshold: 1, bitLength: bits, namePrefix: 'bins' });
    const layout = { bit_length: bits, name_prefix: 'bins' };
    const names = binRoleNames(layout);
    t.deepEqual(names, [...theirs.getRoles()], `names, bit_length ${bits}`);
    for (let i = 0; i < 200; i += 1) {
      const name = `${GUN}:v${i}`;
      t.is(binRoleForTarget(layout, name), theirs.getRoleForTarget(name), `${name}, bit_length ${bits}`);
    }
    for (const role of [names[0]!, names[names.length - 1]!, `bins-${'f'.repeat(names[0]!.length - 4)}0`, 'bins-', `bins-${'0'.repeat(names[0]!.length - 5 + 1)}`, 'bins-G', 'other-0']) {
      t.is(binIndexOfRole(layout, role) !== undefined, theirs.isDelegatedRole(role) && !/[A-F]/.test(role), `${role}, bit_length ${bits}`);
    }
  }
});

test('the server verifies published bins against the succinct delegation and refuses everything else', async (t) => {
  const { server, home, binKey, enabled } = await binnedCollection(t, GUN, 16);
  t.like(enabled, { bins: 16, moved: 0, targetsVersion: 2 });
  const targets = await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'targets');
  t.deepEqual(targets.signed.delegations, {
    keys: { [binKey.keyId]: binKey.publicKey },
    succinct_roles: { keyids: [binKey.keyId], threshold: 1, bit_length: 4, name_prefix: 'bins' },
  });

  const expires = expiresAfter(new Date(), 30 * DAY);
  const entry = { length: 10, hashes: { sha256: 'a'.repeat(64) } };
  const [inside, second] = tagsInBin(0, true, 2);
  const [outside] = tagsInBin(0, false, 1);
  const bin = (version: number, tags: string[], key: KeyPair = binKey, extra: Partial<TargetsSigned> = {}) =>
    signMetadata({ ...buildTargets(version, expires, Object.fromEntries(tags.map((tag) => [`${GUN}:${tag}`, entry]))), ...extra }, [key]);
  const refuse = async (body: unknown, status: number, code: ErrorCode, message: RegExp) => {
    const before = await servedState(server.url, GUN);
    const result = await publishRaw(server.url, GUN, body);
    t.is(result.status, status, result.text);
    t.is(apiError(result).code, code);
    t.regex(apiError(result).message, message);
    await assertUnchanged(t, server.url, GUN, before);
  };

  // A bin carrying a name that hashes into another bin.
  await refuse({ 'bins-0': bin(1, [inside!, outside!]) }, 400, 'SUBSTITUTION', /bins-0 may not sign .* outside the paths delegated to bins-0 \(names whose sha256 starts with the 4 bits of bin 0\)/);
  // A bin role name out of range (bit_length 4: one hex digit), or not in the name grammar at all.
  await refuse({ 'bins-00': bin(1, []) }, 404, 'NOT_FOUND', /bins-00 is not delegated by targets/);
  await refuse({ 'bins-G': bin(1, []) }, 400, 'INVALID_INPUT', /cannot publish role "bins-G"/);
  // A bin signed by a key that is not the bin key.
  await refuse({ 'bins-0': bin(1, [inside!], await generateKeyPair()) }, 400, 'BAD_SIGNATURE', /bins-0/);
  // A bin that delegates further.
  await refuse(
    { 'bins-0': bin(1, [inside!], binKey, { delegations: { keys: {}, roles: [] } }) },
    400,
    'INVALID_INPUT',
    /bins-0 is a hashed bin: bins delegate nothing/,
  );

  const accepted = await publishRaw(server.url, GUN, { 'bins-0': bin(1, [inside!]) });
  t.is(accepted.status, 200, accepted.text);
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:${inside}`)).digest, `sha256:${'a'.repeat(64)}`);
  // The snapshot lists bins by version only; the top-level targets keeps length and hashes.
  const meta = await snapshotMeta(server.url);
  t.deepEqual(meta['bins-0.json'], { version: 1 });
  t.deepEqual(Object.keys(meta['targets.json']!).sort(), ['hashes', 'length', 'version']);
  // A replayed (older or equal) bin version is stale; a skipped one is refused too.
  t.is((await publishRaw(server.url, GUN, { 'bins-0': bin(2, [inside!, second!]) })).status, 200);
  await refuse({ 'bins-0': bin(2, [inside!]) }, 409, 'VERSION_CONFLICT', /bins-0 v2 is stale: the collection has it at v2/);
  await refuse({ 'bins-0': bin(1, [inside!]) }, 409, 'VERSION_CONFLICT', /bins-0 v1 is stale/);
  await refuse({ 'bins-0': bin(4, [inside!]) }, 400, 'BAD_VERSION', /skips versions/);

  // The delegation itself: TUF forbids roles beside succinct_roles; tagtrust bounds bit_length and
  // name_prefix, and allows succinct_roles only in the top-level targets.
  const keys = await collectionKeys(home, GUN);
  const targetsWith = (delegations: unknown) =>
    signMetadata({ ...buildTargets(targets.signed.version + 1, expires, {}), delegations } as TargetsSigned, [keys.targets]);
  const succinct = (bits: number, prefix: string) => ({ keyids: [binKey.keyId], threshold: 1, bit_length: bits, name_prefix: prefix });
  const keysMap = { [binKey.keyId]: binKey.publicKey };
  await refuse({ targets: targetsWith({ keys: keysMap, roles: [], succinct_roles: succinct(4, 'bins') }) }, 400, 'MALFORMED_METADATA', /exactly one of roles and succinct_roles/);
  await refuse({ targets: targetsWith({ keys: keysMap, succinct_roles: succinct(15, 'bins') }) }, 400, 'INVALID_INPUT', /bit_length must be an integer from 1 to 14, got 15/);
  await refuse({ targets: targetsWith({ keys: keysMap, succinct_roles: succinct(0, 'bins') }) }, 400, 'MALFORMED_METADATA', /bit_length must be an integer >= 1/);
  await refuse({ targets: targetsWith({ keys: keysMap, succinct_roles: succinct(4, 'targets/bins') }) }, 400, 'INVALID_INPUT', /name_prefix "targets\/bins" must be a letter/);
  await refuse({ targets: targetsWith({ keys: {}, succinct_roles: succinct(4, 'bins') }) }, 400, 'MALFORMED_METADATA', /lists key .* that is not in the keys map/);
});

test('a delegated role may not delegate hashed bins; explicit delegations may not sit beside them', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const ci = await generateKeyPair();
  await owner.addDelegation(GUN, 'targets/ci', { keys: [ci.publicKey], paths: ['dev-*'] });
  const nested = signMetadata(
    { ...buildTargets(1, expiresAfter(new Date(), DAY), {}), delegations: { keys: { [ci.keyId]: ci.publicKey }, succinct_roles: { keyids: [ci.keyId], threshold: 1, bit_length: 2, name_prefix: 'bins' } } },
    [ci],
  );
  const result = await publishRaw(server.url, GUN, { 'targets/ci': nested });
  t.is(result.status, 400);
  t.regex(apiError(result).message, /only the top-level targets may delegate hashed bins \(succinct_roles\), not targets\/ci/);

  // bins enable refuses while explicit roles exist; on a binned collection, delegation add refuses.
  await t.throwsAsync(owner.enableBins(GUN), { name: 'UsageError', message: /delegates targets\/ci: hashed bins .* cannot sit beside explicit delegations/ });
  await owner.removeDelegation(GUN, 'targets/ci');
  await owner.enableBins(GUN, { bins: 2 });
  await t.throwsAsync(owner.addDelegation(GUN, 'targets/ci', { keys: [ci.publicKey], paths: ['dev-*'] }), {
    name: 'InvalidInputError',
    message: /delegates hashed bins \(succinct_roles\), and TUF allows no explicit delegations beside them/,
  });
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
  t.deepEqual(Object.keys(body).sort(), ['targets', ...Array.from({ length: 16 }, (_, i) => `bins-${i.toString(16)}`)].sort());
  t.deepEqual(body.targets!.signed.targets, {});

  const puller = pullerFor(server.url, await tempHome());
  for (const [i, tag] of tags.entries()) t.is((await puller.resolve(`${GUN}:${tag}`)).digest, digestOf((i % 10).toString()), tag);
  const listed = await puller.list(GUN);
  t.is(listed.length, 40);
  for (const tag of listed) t.is(tag.signedBy, bin16(tag.tag));

  // Signing a new tag changes only its bin (plus snapshot/timestamp, signed by the server).
  const metaBefore = await snapshotMeta(server.url);
  const mark = proxy.requests.length;
  const signed = await owner.sign(`${GUN}:new`, { digest: digestOf('f'), size: 7 });
  const bin = bin16('new');
  t.is(signed.role, bin);
  // The publish itself, not the POST that takes the publish lease.
  const signPosts = proxy.requests.slice(mark).filter((r) => r.method === 'POST' && !r.path.endsWith('/_trust/lease'));
  t.is(signPosts.length, 1);
  t.deepEqual(Object.keys(JSON.parse(signPosts[0]!.body.toString('utf8'))), [bin]);
  // Only that bin was downloaded among the delegated roles.
  const downloadedBins = proxy.requests.slice(mark).filter((r) => r.method === 'GET' && r.path.includes('bins-')).map((r) => r.path);
  t.true(downloadedBins.every((p) => p.endsWith(`.${bin}.json`)), downloadedBins.join(' '));
  const metaAfter = await snapshotMeta(server.url);
  const changed = Object.keys(metaAfter).filter((file) => metaAfter[file]!.version !== metaBefore[file]?.version);
  t.deepEqual(changed, [`${bin}.json`]);
  t.is((await puller.resolve(`${GUN}:new`)).digest, digestOf('f'));

  // Unsign goes to the bin too; a re-sign of an existing tag moves it inside its bin.
  const unsigned = await owner.unsign(`${GUN}:v3`);
  t.is(unsigned.role, bin16('v3'));
  await t.throwsAsync(puller.resolve(`${GUN}:v3`), { name: 'NotSignedError' });
  await owner.sign(`${GUN}:v4`, { digest: digestOf('e'), size: 9 });
  t.is((await puller.resolve(`${GUN}:v4`)).digest, digestOf('e'));

  // A tag signed into the top-level targets explicitly stays there (it would shadow its bin).
  t.is((await owner.sign(`${GUN}:top`, { digest: digestOf('1'), size: 1 }, { role: 'targets' })).role, 'targets');
  t.is((await owner.sign(`${GUN}:top`, { digest: digestOf('2'), size: 1 })).role, 'targets');
  t.is((await puller.resolve(`${GUN}:top`)).digest, digestOf('2'));
  t.is((await owner.unsign(`${GUN}:top`)).role, 'targets');

  await t.throwsAsync(owner.enableBins(GUN, { bins: 16 }), { message: /already uses hashed bins \(16\)/ });
  await t.throwsAsync(owner.enableBins(GUN, { bins: 100 }), { name: 'UsageError', message: /--bins must be a power of two from 2 to 16384, got 100/ });

  // delegation list shows the bins.
  const delegations = await owner.listDelegations(GUN);
  t.is(delegations.length, 16);
  t.like(delegations[0], { role: 'bins-0', delegator: 'targets', bin: { index: 0, bitLength: 4 }, state: 'trusted' });
  t.is(delegations.reduce((sum, d) => sum + d.tags, 0), 40);
});

test("tuf-js's own Updater resolves binned tags served by tagtrust and reuses its cached bins", async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const proxy = await startProxy(server.url);
  t.teardown(() => proxy.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  for (let i = 0; i < 20; i += 1) await owner.sign(`${GUN}:v${i}`, { digest: digestOf((i % 10).toString()), size: 10 + i });
  await owner.enableBins(GUN, { bins: 64 });

  const metadataDir = await mkdtemp(join(tmpdir(), 'tagtrust-tufjs-'));
  t.teardown(() => rm(metadataDir, { recursive: true, force: true }));
  await writeFile(join(metadataDir, 'root.json'), (await getTufFile(server.url, GUN, '1.root.json')).text);
  const updater = () => new Updater({ metadataDir, metadataBaseUrl: `${proxy.url}${tufBasePath(GUN)}` });
  const cold = updater();
  for (let i = 0; i < 20; i += 1) t.is((await cold.getTargetInfo(`${GUN}:v${i}`))!.hashes.sha256, String(i % 10).repeat(64));
  t.is(await cold.getTargetInfo(`${GUN}:nope`), undefined);
  const bin = binRoleForTarget({ bit_length: 6, name_prefix: 'bins' }, `${GUN}:v1`);
  t.true((await readdir(metadataDir)).includes(`${bin}.json`), 'tuf-js keeps the bin where it looks for it');

  // An unrelated tag changes (in another bin): a warm Updater downloads timestamp and snapshot, not the bin.
  let other = 0;
  while (binRoleForTarget({ bit_length: 6, name_prefix: 'bins' }, `${GUN}:o${other}`) === bin) other += 1;
  await owner.sign(`${GUN}:o${other}`, { digest: digestOf('f'), size: 1 });
  const mark = proxy.requests.length;
  t.is((await updater().getTargetInfo(`${GUN}:v1`))!.hashes.sha256, '1'.repeat(64));
  const fetched = proxy.requests.slice(mark).map((r) => r.path.replace(/^.*\/_trust\/tuf\//, ''));
  t.deepEqual(fetched.filter((f) => !/^\d+\.root\.json$/.test(f)).map((f) => f.replace(/^\d+\./, 'N.')), ['timestamp.json', 'N.snapshot.json']);

  // The bin itself changes: the warm Updater downloads it again and sees the change.
  await owner.sign(`${GUN}:v1`, { digest: digestOf('e'), size: 1 });
  t.is((await updater().getTargetInfo(`${GUN}:v1`))!.hashes.sha256, 'e'.repeat(64));
});

test('re-binning moves every tag into the new layout in one publish; old bins stay in the snapshot; tags resolve throughout', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const tags = Array.from({ length: 30 }, (_, i) => `v${i}`);
  for (const tag of tags) await owner.sign(`${GUN}:${tag}`, { digest: digestOf('a'), size: 10 });
  const first = await owner.enableBins(GUN, { bins: 4 });
  const warm = pullerFor(server.url, await tempHome());
  for (const tag of tags) t.is((await warm.resolve(`${GUN}:${tag}`)).digest, digestOf('a'));

  const again = await owner.enableBins(GUN, { bins: 32 });
  t.like(again, { bins: 32, moved: 30, keyId: first.keyId });
  t.is(again.keyFile, undefined, 'the bin key this home holds is kept');
  const meta = await snapshotMeta(server.url);
  for (const role of [...binRoleNames({ bit_length: 2, name_prefix: 'bins' }), ...binRoleNames({ bit_length: 5, name_prefix: 'bins' })]) {
    t.truthy(meta[`${role}.json`], role);
  }
  // A warm puller that cached the old layout and a new one both resolve every tag.
  for (const tag of tags) t.is((await warm.resolve(`${GUN}:${tag}`)).digest, digestOf('a'), tag);
  const listed = await pullerFor(server.url, await tempHome()).list(GUN);
  t.is(listed.length, 30);
  for (const tag of listed) t.is(tag.signedBy, binRoleForTarget({ bit_length: 5, name_prefix: 'bins' }, tag.reference));
  // And back to fewer bins: names shared with an older layout continue their versions.
  await owner.enableBins(GUN, { bins: 4 });
  for (const tag of tags) t.is((await warm.resolve(`${GUN}:${tag}`)).digest, digestOf('a'), tag);
  t.is((await snapshotMeta(server.url))['bins-0.json']!.version, 2);
  // A new bin key (after it was exposed): same layout, every bin re-signed with it.
  const rotated = await owner.enableBins(GUN, { newKey: true });
  t.like(rotated, { bins: 4, moved: 30 });
  t.not(rotated.keyId, first.keyId);
  t.truthy(rotated.keyFile);
  t.deepEqual((await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'targets')).signed.delegations?.succinct_roles?.keyids, [rotated.keyId]);
  for (const tag of tags) t.is((await warm.resolve(`${GUN}:${tag}`)).digest, digestOf('a'), tag);
});

test('cli: tagtrust bins enable, then sign, list and delegation list go through the bins', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome(), TAGTRUST_BINS_PASSPHRASE: 'bins-passphrase-for-tests' };
  t.is((await runCli(['init', GUN], env)).code, 0);
  t.is((await runCli(['sign', `${GUN}:v1`, '--digest', digestOf('a'), '--size', '10'], env)).code, 0);
  const noPassphrase = await runCli(['bins', 'enable', GUN, '--bins', '16'], { ...env, TAGTRUST_BINS_PASSPHRASE: '' });
  t.is(noPassphrase.code, 4, noPassphrase.stderr);
  t.is(noPassphrase.stderr, `tagtrust: no passphrase for a new bins key of ${GUN}: set TAGTRUST_BINS_PASSPHRASE or run on a terminal\n`);
  const enable = await runCli(['bins', 'enable', GUN, '--bins', '16'], env);
  t.is(enable.code, 0, enable.stderr);
  t.regex(enable.stdout, /^Moved 1 tag of registry\.example\.com\/team\/app into 16 hashed bins \(targets v3\)\nBin key: [0-9a-f]{8} \(.*\.key\)\n$/);
  const sign = await runCli(['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '10'], env);
  t.is(sign.code, 0, sign.stderr);
  t.is(sign.stdout, `Signed ${GUN}:v2 -> ${digestOf('b')} (${bin16('v2')} v2)\n`);
  const list = await runCli(['list', GUN], env);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /v1/);
  t.regex(list.stdout, /v2/);
  const delegations = await runCli(['delegation', 'list', GUN], env);
  t.is(delegations.code, 0, delegations.stderr);
  t.regex(delegations.stdout, /^bins-0\.\.bins-f {2}16 hashed bins \(first 4 bits of sha256\), threshold 1 of 1 {2}\(2 tags\)\n {2}keys: {2}[0-9a-f]{8}\n$/);
  const bad = await runCli(['bins', 'enable', GUN, '--bins', '100'], env);
  t.is(bad.code, 2, bad.stderr);
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
  t.is(sixth.role, bin16('v5'));
  t.regex(warnings.join('\n'), /holds 5 tags, over the hashed bins threshold of 5: moved 5 tags into 16 hashed bins/);
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

test('sign re-bins into a larger layout when a bin would pass 1,000 tags', async (t) => {
  t.timeout(120_000);
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const warnings: string[] = [];
  const owner = publisherFor(server.url, home, { binsThreshold: 0, warn: (m) => warnings.push(m) });
  await owner.init(GUN);
  // 2 bins; bin 0 (first bit of the sha256 is 0) gets exactly 1,000 tags.
  const layout = { bit_length: 1, name_prefix: 'bins' };
  const inBin0: string[] = [];
  const inBin1: string[] = [];
  for (let i = 0; inBin0.length < 1001 || inBin1.length < 10; i += 1) (binRoleForTarget(layout, `${GUN}:t${i}`) === 'bins-0' ? inBin0 : inBin1).push(`t${i}`);
  const next = inBin0.pop()!;
  const keys = await collectionKeys(home, GUN);
  const entry = { length: 10, hashes: { sha256: 'a'.repeat(64) } };
  const flat = Object.fromEntries([...inBin0, ...inBin1.slice(0, 10)].map((tag) => [`${GUN}:${tag}`, entry]));
  t.is((await publishRaw(server.url, GUN, { targets: signMetadata(buildTargets(2, expiresAfter(new Date(), DAY), flat), [keys.targets]) })).status, 200);
  await owner.enableBins(GUN, { bins: 2 });
  const binned = publisherFor(server.url, home, { warn: (m) => warnings.push(m) });
  t.is((await binned.sign(`${GUN}:${inBin1[10]}`, { digest: digestOf('b'), size: 1 })).role, 'bins-1');

  const signed = await binned.sign(`${GUN}:${next}`, { digest: digestOf('c'), size: 2 });
  t.regex(warnings.join('\n'), /bins-0 of .* holds 1000 tags, over the 1000 a bin should hold: moved 1011 tags into 16 hashed bins/);
  t.is(signed.role, binRoleForTarget({ bit_length: 4, name_prefix: 'bins' }, `${GUN}:${next}`));
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.list(GUN)).length, 1012);
  t.is((await puller.resolve(`${GUN}:${inBin0[0]}`)).digest, `sha256:${'a'.repeat(64)}`);
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
  for (const tag of listed) t.is(tag.signedBy, bin16(tag.tag));
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
  const migration = all.find((r) => r.versions?.['bins-0'] === 1)!;
  t.deepEqual(migration.tags ?? [], []);
  const v1 = await readHistory(`${GUN}:v1`, { server: server.url, home });
  t.deepEqual(v1.map((r) => r.tags!.map((c) => [c.tag, c.change])), [[['v1', 'added']], [['v1', 'moved']]]);
  const v2 = await readHistory(`${GUN}:v2`, { server: server.url, home });
  t.deepEqual(v2.map((r) => r.tags!.map((c) => c.change)), [['added'], ['removed']]);
});
