/**
 * One key counts once (issue 10), at publish and when the CLI builds metadata: the server refuses
 * (400 INVALID_INPUT, nothing stored) a root or targets whose key maps list one key twice, written
 * two ways, or a key under an ID that is not its own; `tagtrust delegation add` refuses the same key
 * given twice (exit 3) and reuses the entry of a key the delegations already list in another encoding.
 * Key IDs are sha256 of the whole key object, so keys with extra fields are accepted under those IDs.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, keyIdOf, signMetadata } from '@tagtrust/keys';
import type { KeyAlgorithm, KeyPair } from '@tagtrust/keys';
import { InvalidInputError } from '@tagtrust/client';
import { buildTargets, expiresAfter } from '@tagtrust/shared';
import type { Metadata, RootSigned, TargetsSigned, TufKey } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { otherEncodings } from './helpers/key-encodings.js';
import type { HttpResult } from './helpers/metadata.js';
import { apiError, assertUnchanged, collectionKeys, latestMetadata, publishRaw, servedState } from './helpers/metadata.js';

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

const ALGORITHMS: KeyAlgorithm[] = ['ed25519', 'ecdsa-p256', 'rsa-pss'];
const future = () => expiresAfter(new Date(), 30 * 24 * 3600_000);
/** Generous: key generation and scrypt are slow on a loaded machine. */
const publisher = (home: string) => publisherFor(server.url, home, { timeoutMs: 120_000 });
const under = (pair: KeyPair, publicKey: TufKey, keyId = keyIdOf(publicKey)): KeyPair => ({ ...pair, keyId, publicKey });

function expectRefused(t: ExecutionContext, result: HttpResult, message: RegExp, what: string): void {
  t.is(result.status, 400, `${what}: ${result.text}`);
  if (result.status !== 400) return;
  const error = apiError(result);
  t.is(error.code, 'INVALID_INPUT', what);
  t.regex(error.message, message, what);
}

for (const algorithm of ALGORITHMS) {
  test(`publish refuses a root whose threshold of 2 one key meets in two encodings (${algorithm}, every encoding)`, async (t) => {
    const gun = `registry.example.com/keyid/root-${algorithm}`;
    const home = await tempHome();
    await publisher(home).init(gun, { algorithm });
    const { root: rootKey } = await collectionKeys(home, gun);
    const current = await latestMetadata<Metadata<RootSigned>>(server.url, gun, 'root');
    const before = await servedState(server.url, gun);
    for (const { name, key } of otherEncodings(rootKey)) {
      const twin = under(rootKey, key);
      const signed = structuredClone(current.signed);
      signed.version += 1;
      signed.keys[twin.keyId] = key;
      signed.roles.root = { keyids: [rootKey.keyId, twin.keyId], threshold: 2 };
      const result = await publishRaw(server.url, gun, { root: signMetadata(signed, [rootKey, twin]) });
      expectRefused(t, result, new RegExp(`^root v2 lists one ${rootKey.publicKey.keytype} key twice, under IDs [0-9a-f]{8} and [0-9a-f]{8} \\(the same public key written two ways\\): list each key once, under its own key ID`), name);
    }
    await assertUnchanged(t, server.url, gun, before);
    // Control: the same crafting with the key listed once is accepted.
    const honest = structuredClone(current.signed);
    honest.version += 1;
    const accepted = await publishRaw(server.url, gun, { root: signMetadata(honest, [rootKey]) });
    t.is(accepted.status, 200, accepted.text);
  });
}

test('publish refuses delegations and hashed bins listing one key twice, or a key under a foreign ID', async (t) => {
  const gun = 'registry.example.com/keyid/delegations';
  const home = await tempHome();
  await publisher(home).init(gun);
  const { targets: targetsKey } = await collectionKeys(home, gun);
  const before = await servedState(server.url, gun);
  const pair = await generateKeyPair();
  const [pem] = otherEncodings(pair).filter((e) => e.name === 'PEM');
  const twinId = keyIdOf(pem!.key);
  const withDelegations = (delegations: TargetsSigned['delegations']) => {
    const signed = buildTargets(2, future());
    signed.delegations = delegations;
    return { targets: signMetadata(signed, [targetsKey]) };
  };
  const twice = { [pair.keyId]: pair.publicKey, [twinId]: pem!.key };
  const role = { name: 'targets/ci', terminating: false, paths: [`${gun}:ci-*`] };
  expectRefused(
    t,
    await publishRaw(server.url, gun, withDelegations({ keys: twice, roles: [{ ...role, keyids: [pair.keyId, twinId], threshold: 2 }] })),
    /^targets v2 delegates to keys but lists one ed25519 key twice, under IDs [0-9a-f]{8} and [0-9a-f]{8} \(the same public key written two ways\)/,
    'delegated role',
  );
  expectRefused(
    t,
    await publishRaw(server.url, gun, withDelegations({ keys: twice, succinct_roles: { keyids: [pair.keyId, twinId], threshold: 2, bit_length: 4, name_prefix: 'bins' } })),
    /^targets v2 delegates to keys but lists one ed25519 key twice/,
    'hashed bins',
  );
  expectRefused(
    t,
    await publishRaw(server.url, gun, withDelegations({ keys: { ['f'.repeat(64)]: pair.publicKey }, roles: [{ ...role, keyids: ['f'.repeat(64)], threshold: 1 }] })),
    /^targets v2 delegates to keys but lists a key under ID ffffffff, which is not that key's ID/,
    'foreign key ID',
  );
  await assertUnchanged(t, server.url, gun, before);
});

test('publish accepts keys with extra fields under their specification key IDs, and refuses them under the old three-field IDs', async (t) => {
  const gun = 'registry.example.com/keyid/extra-fields';
  const home = await tempHome();
  await publisher(home).init(gun);
  const { root: rootKey, targets: targetsKey } = await collectionKeys(home, gun);
  await publisher(home).sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  const current = await latestMetadata<Metadata<RootSigned>>(server.url, gun, 'root');
  const extended = { ...targetsKey.publicKey, keyid_hash_algorithms: ['sha256', 'sha512'] } as TufKey;
  const rootWith = (keyId: string) => {
    const signed = structuredClone(current.signed);
    signed.version += 1;
    delete signed.keys[targetsKey.keyId];
    signed.keys[keyId] = extended;
    signed.roles.targets = { keyids: [keyId], threshold: 1 };
    return signMetadata(signed, [rootKey]);
  };
  const currentTargets = await latestMetadata<Metadata<TargetsSigned>>(server.url, gun, 'targets');
  const targetsFor = (keyId: string) => {
    const signed = structuredClone(currentTargets.signed);
    signed.version += 1;
    return signMetadata(signed, [under(targetsKey, extended, keyId)]);
  };
  expectRefused(t, await publishRaw(server.url, gun, { root: rootWith(targetsKey.keyId), targets: targetsFor(targetsKey.keyId) }), /^root v2 lists a key under ID [0-9a-f]{8}, which is not that key's ID/, 'three-field ID');
  const specId = keyIdOf(extended);
  const accepted = await publishRaw(server.url, gun, { root: rootWith(specId), targets: targetsFor(specId) });
  t.is(accepted.status, 200, accepted.text);
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`)).digest, digestOf('a'));
});

test('delegation add refuses the same key given twice, in one encoding or two (library and CLI), and reuses a key already listed', async (t) => {
  const gun = 'registry.example.com/keyid/delegation-add';
  const home = await tempHome();
  const owner = publisher(home);
  await owner.init(gun);
  const pair = await generateKeyPair('ecdsa-p256');
  const [hex] = otherEncodings(pair).filter((e) => e.name === 'hex of the uncompressed point');
  const before = await servedState(server.url, gun);
  const refused = await t.throwsAsync(owner.addDelegation(gun, 'targets/ci', { keys: [pair.publicKey, hex!.key], threshold: 2, paths: ['ci-*'] }));
  t.true(refused instanceof InvalidInputError, refused?.message);
  t.regex(refused!.message, /^keys #1 and #2 given for targets\/ci are the same public key written two ways: one key counts once towards a threshold/);
  const same = await t.throwsAsync(owner.addDelegation(gun, 'targets/ci', { keys: [pair.publicKey, pair.publicKey], paths: ['ci-*'] }));
  t.regex(same!.message, /^keys #1 and #2 given for targets\/ci are the same public key: /);

  const a = join(home, 'a.pub');
  const a2 = join(home, 'a2.pub');
  await writeFile(a, JSON.stringify(pair.publicKey));
  await writeFile(a2, JSON.stringify(hex!.key));
  const cli = await runCli(['delegation', 'add', gun, 'targets/ci', '--key', a, '--key', a2, '--threshold', '2', '--paths', 'ci-*', '--timeout', '120'], {
    TAGTRUST_SERVER: server.url,
    TAGTRUST_HOME: home,
  });
  t.is(cli.code, 3, cli.stderr);
  t.regex(cli.stderr, /^tagtrust: keys #1 and #2 given for targets\/ci are the same public key written two ways: .*give each signer's key once\n$/);
  await assertUnchanged(t, server.url, gun, before);

  // A key the delegations already list, given in another encoding for another role, keeps its entry.
  await owner.addDelegation(gun, 'targets/ci', { keys: [pair.publicKey], paths: ['ci-*'] });
  await owner.addDelegation(gun, 'targets/qa', { keys: [hex!.key], paths: ['qa-*'] });
  const targets = await latestMetadata<Metadata<TargetsSigned>>(server.url, gun, 'targets');
  t.deepEqual(Object.keys(targets.signed.delegations!.keys), [pair.keyId]);
  t.deepEqual(targets.signed.delegations!.roles!.map((r) => r.keyids), [[pair.keyId], [pair.keyId]]);
});
