import test from 'ava';
import { mkdir, readFile, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { MetadataKind, Metadata as TufMetadata } from '@tufjs/models';
import { decryptKeyFile, parseKeyFile, signMetadata } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { buildTargets } from '@tagtrust/shared';
import type { Metadata, RootSigned, TargetsSigned } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { PASSPHRASES, digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { api } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';

async function latest<T extends Metadata>(server: TestServer, role: string): Promise<T> {
  return (await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/${role}.json`, undefined)).body as T;
}

async function privateKey(home: string, keyId: string, passphrase: string): Promise<KeyPair> {
  const path = join(home, 'keys', `${keyId}.key`);
  return decryptKeyFile(parseKeyFile(await readFile(path, 'utf8'), path), passphrase);
}

/** What a tuf-js client decides: does `trusted` root accept `metadata` for `role`? */
function tufAccepts(trusted: Metadata<RootSigned>, role: string, metadata: Metadata): boolean {
  try {
    TufMetadata.fromJSON(MetadataKind.Root, structuredClone(trusted) as never).verifyDelegate(role, TufMetadata.fromJSON(role as never, structuredClone(metadata) as never));
    return true;
  } catch {
    return false;
  }
}

test('targets and root keys rotate; clients walk the root chain; the old keys sign nothing clients accept', async (t) => {
  t.timeout(120_000, 'many full TUF updates on a shared test machine');
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home };
  const publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:v1`)).metadata.root.version, 1);
  const root1 = await latest<Metadata<RootSigned>>(server, 'root');
  const oldTargets = await privateKey(home, root1.signed.roles.targets.keyids[0]!, PASSPHRASES.targets);
  const oldRoot = await privateKey(home, root1.signed.roles.root.keyids[0]!, PASSPHRASES.root);

  const targets = await runCli(['key', 'rotate', GUN, 'targets'], env);
  t.is(targets.code, 0, targets.stderr);
  t.regex(targets.stdout, /^ {2}targets: keys [0-9a-f]{8} \(threshold 1\) -> [0-9a-f]{8} \(threshold 1\)\n {2}private key: .*\.key\nRotated the targets key of registry\.example\.com\/team\/app: published root v2, targets v3, snapshot v3, timestamp v3\n$/);
  const root2 = await latest<Metadata<RootSigned>>(server, 'root');
  t.not(root2.signed.roles.targets.keyids[0], oldTargets.keyId);
  t.false(oldTargets.keyId in root2.signed.keys);
  const afterTargets = await puller.resolve(`${GUN}:v1`);
  t.is(afterTargets.digest, digestOf('a'));
  t.is(afterTargets.metadata.root.version, 2);
  t.is(afterTargets.metadata.targets.version, 3);
  // The new targets key signs; the old one cannot.
  await publisher.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 });
  const current = await latest<Metadata<TargetsSigned>>(server, 'targets');
  const forgedTargets = signMetadata(buildTargets(current.signed.version + 1, '2099-01-01T00:00:00Z', { [`${GUN}:v1`]: { length: 10, hashes: { sha256: 'e'.repeat(64) } } }), [oldTargets]);
  const refused = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { targets: forgedTargets });
  t.is(refused.status, 400);
  t.is(refused.body.error.code, 'BAD_SIGNATURE');
  t.false(tufAccepts(root2, 'targets', forgedTargets));
  t.true(tufAccepts(root2, 'targets', current));

  const rootRotation = await publisher.rotateKey(GUN, 'root');
  const root3 = await latest<Metadata<RootSigned>>(server, 'root');
  t.is(root3.signed.version, 3);
  const newRootKey = root3.signed.roles.root.keyids[0]!;
  t.not(newRootKey, oldRoot.keyId);
  t.deepEqual(rootRotation.keyFiles, [join(home, 'keys', `${newRootKey}.key`)]);
  // Spec 5.3.4: root v3 is signed by the old root key (trusted by v2) and by the new one (its own).
  t.deepEqual(root3.signatures.map((s) => s.keyid).sort(), [newRootKey, oldRoot.keyId].sort());
  t.true(tufAccepts(root2, 'root', root3));
  t.true(tufAccepts(root3, 'root', root3));
  const afterRoot = await puller.resolve(`${GUN}:v2`);
  t.is(afterRoot.metadata.root.version, 3);
  const fresh = await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v2`);
  t.is(fresh.digest, digestOf('b'));

  // The old root key alone can sign no root that the server or a client accepts.
  const forgedRoot = structuredClone(root3.signed);
  forgedRoot.version = 4;
  forgedRoot.keys[oldRoot.keyId] = oldRoot.publicKey;
  forgedRoot.roles.root = { keyids: [oldRoot.keyId], threshold: 1 };
  const forged = signMetadata(forgedRoot, [oldRoot]);
  const refusedRoot = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { root: forged });
  t.is(refusedRoot.status, 400);
  t.is(refusedRoot.body.error.code, 'UNTRUSTED_ROOT');
  t.regex(refusedRoot.body.error.message, /root v4 is not signed by the current root keys \(v3\)/);
  t.false(tufAccepts(root3, 'root', forged));
  t.is((await latest<Metadata<RootSigned>>(server, 'root')).signed.version, 3);
});

test('a 2-of-3 root: key holders on different homes sign a proposal; too few signatures publish nothing', async (t) => {
  t.timeout(120_000, 'a dozen CLI runs on a shared test machine');
  const server = await startTestServer();
  t.teardown(() => server.close());
  const [homeA, homeB, homeC] = await Promise.all([tempHome(), tempHome(), tempHome()]);
  const env = (home: string) => ({ TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  const init = await runCli(['init', GUN, '--root-keys', '3', '--root-threshold', '2'], env(homeA));
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /^Initialised registry\.example\.com\/team\/app: root keys [0-9a-f]{8}, [0-9a-f]{8}, [0-9a-f]{8} \(threshold 2\), targets key [0-9a-f]{8}\n/);
  const root1 = await latest<Metadata<RootSigned>>(server, 'root');
  t.deepEqual(root1.signed.roles.root.threshold, 2);
  const [keyA, keyB, keyC] = root1.signed.roles.root.keyids as [string, string, string];
  // Each holder keeps one root key on their own machine.
  for (const [keyId, home] of [[keyB, homeB], [keyC, homeC]] as const) {
    await mkdir(join(home, 'keys'), { recursive: true, mode: 0o700 });
    await rename(join(homeA, 'keys', `${keyId}.key`), join(home, 'keys', `${keyId}.key`));
  }
  const feedLength = async () => (await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined)).body.records.length;

  const alone = await runCli(['key', 'rotate', GUN, 'timestamp'], env(homeA));
  t.is(alone.code, 2);
  t.regex(alone.stderr, /needs 2 root keys to sign a new root and this home holds 1: run `tagtrust key rotate registry\.example\.com\/team\/app timestamp --out FILE`/);
  t.is(await feedLength(), 1, 'nothing was asked of the server');

  const file = join(homeA, 'proposal.json');
  const prepare = await runCli(['key', 'rotate', GUN, 'timestamp', '--out', file], env(homeA));
  t.is(prepare.code, 0, prepare.stderr);
  t.regex(prepare.stdout, /Wrote root v2 proposal to .*proposal\.json: signatures: current root keys 1\/2, new root keys 1\/2\n$/);

  const early = await runCli(['root', 'publish', file], env(homeC));
  t.is(early.code, 22);
  t.regex(early.stderr, /root v2 of registry\.example\.com\/team\/app is signed by 1 of 2 current root keys and 1 of 2 new root keys: have more root key holders run `tagtrust root sign/);
  // The server refuses it too, and nothing changes.
  const proposal = JSON.parse(await readFile(file, 'utf8'));
  const direct = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { root: proposal.root });
  t.is(direct.status, 400);
  t.is(direct.body.error.code, 'UNTRUSTED_ROOT');
  t.is((await latest<Metadata<RootSigned>>(server, 'root')).signed.version, 1);

  const sign = await runCli(['root', 'sign', file], env(homeB));
  t.is(sign.code, 0, sign.stderr);
  t.regex(sign.stdout, /^Root v2 of registry\.example\.com\/team\/app: rotate the timestamp key\n {2}timestamp: keys [0-9a-f]{8} \(threshold 1\) -> [0-9a-f]{8} \(threshold 1\)\nAdded signatures by [0-9a-f]{8}; signatures: current root keys 2\/2, new root keys 2\/2 \(ready to publish\)\n$/);
  const publish = await runCli(['root', 'publish', file], env(homeC));
  t.is(publish.code, 0, publish.stderr);
  t.regex(publish.stdout, /^Published root v2 of registry\.example\.com\/team\/app: root v2, snapshot v2, timestamp v2\n$/);

  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.list(GUN)).length, 0);
  await publisherFor(server.url, homeA).sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  t.is((await puller.resolve(`${GUN}:v1`)).metadata.root.version, 2);

  // Holder B replaces their root key; C co-signs; A publishes. A stale proposal is refused.
  const file2 = join(homeB, 'rotate-root.json');
  const prepareRoot = await runCli(['key', 'rotate', GUN, 'root', '--out', file2], env(homeB));
  t.is(prepareRoot.code, 0, prepareRoot.stderr);
  t.regex(prepareRoot.stdout, /root: keys .* \(threshold 2\) -> .* \(threshold 2\)\n {2}private key: /);
  t.is((await runCli(['root', 'sign', file2], env(homeC))).code, 0);
  const stale = await runCli(['root', 'sign', file], env(homeC));
  t.is(stale.code, 25);
  t.regex(stale.stderr, /replaces root v1 with v2, but the current root is v2: prepare a new proposal/);
  const publish2 = await runCli(['root', 'publish', file2], env(homeA));
  t.is(publish2.code, 0, publish2.stderr);
  const root3 = await latest<Metadata<RootSigned>>(server, 'root');
  t.is(root3.signed.version, 3);
  t.false(root3.signed.roles.root.keyids.includes(keyB));
  t.true(root3.signed.roles.root.keyids.includes(keyA) && root3.signed.roles.root.keyids.includes(keyC));
  t.is((await puller.resolve(`${GUN}:v1`)).metadata.root.version, 3);
  const history = await runCli(['history', GUN], env(homeA));
  t.regex(history.stdout, /publish root v3, snapshot v4, timestamp v4; root keys now /);

  const files = await readdir(join(homeB, 'keys'));
  t.is(files.length, 2, 'B holds its old and its new root key');
  const badThreshold = await runCli(['init', 'registry.example.com/team/other', '--root-keys', '2', '--root-threshold', '3'], env(homeA));
  t.is(badThreshold.code, 2);
  t.regex(badThreshold.stderr, /--root-threshold must be 1 to 2 \(the number of root keys\), got 3/);
});
