/**
 * One key counts once (issue 10), on the client: the same public key written another way (ed25519
 * as upper-case hex or PEM, ECDSA under the other keytype, as hex or a compressed point, RSA under
 * the RSASSA-PSS algorithm, PEM with other whitespace, extra fields) has another key ID, and tuf-js
 * counts key IDs. A malicious server (or a publisher holding one key) lists one key twice to meet a
 * threshold of 2 alone, in a root or in delegations, or a key under an ID that is not its own: the
 * client refuses the metadata (MalformedMetadataError, exit 26) and keeps its trusted state.
 * Key IDs follow the specification (sha256 of the whole key object), so roots whose keys carry
 * extra fields, as other TUF repositories write them, verify.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { generateKeyPair, keyIdOf, keyIdentity, signMetadata, verifyRoleSignatures } from '@tagtrust/keys';
import type { KeyAlgorithm, KeyPair } from '@tagtrust/keys';
import { MalformedMetadataError } from '@tagtrust/client';
import { SignatureError, buildTargets, canonicalBytes } from '@tagtrust/shared';
import type { RootSigned, TufKey } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { otherEncodings } from './helpers/key-encodings.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertOnlyKept, assertRecovers, assertRefused, assertRefusedEverywhere, trustState } from './harness/attack.js';

const ALGORITHMS: KeyAlgorithm[] = ['ed25519', 'ecdsa-p256', 'rsa-pss'];
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The same private key signing under another key ID and key JSON: how one holder counts twice. */
const under = (pair: KeyPair, publicKey: TufKey, keyId = keyIdOf(publicKey)): KeyPair => ({ ...pair, keyId, publicKey });

test('every accepted encoding of every key type has one key identity, and a key ID over the whole key object', async (t) => {
  for (const algorithm of ALGORITHMS) {
    const pair = await generateKeyPair(algorithm);
    const { keytype, scheme, keyval } = pair.publicKey;
    t.is(pair.keyId, sha256(canonicalBytes({ keytype, scheme, keyval })), `${algorithm}: tagtrust keys keep their key IDs`);
    const encodings = otherEncodings(pair);
    t.true(encodings.length >= 4, algorithm);
    for (const { name, key } of encodings) {
      t.is(keyIdentity(key), keyIdentity(pair.publicKey), `${algorithm} ${name}: same identity`);
      t.is(keyIdOf(key), sha256(canonicalBytes(key)), `${algorithm} ${name}: the spec key ID`);
      t.not(keyIdOf(key), pair.keyId, `${algorithm} ${name}: another key ID`);
    }
    t.not(keyIdentity((await generateKeyPair(algorithm)).publicKey), keyIdentity(pair.publicKey), `${algorithm}: another key, another identity`);
  }
});

test('verifyRoleSignatures counts key material: one key under two IDs meets no threshold of 2', async (t) => {
  for (const algorithm of ALGORITHMS) {
    const pair = await generateKeyPair(algorithm);
    const other = await generateKeyPair(algorithm);
    for (const { name, key } of otherEncodings(pair)) {
      const twin = under(pair, key);
      const keys = { [pair.keyId]: pair.publicKey, [twin.keyId]: key, [other.keyId]: other.publicKey };
      const metadata = signMetadata(buildTargets(1, '2100-01-01T00:00:00Z'), [pair, twin]);
      t.is(metadata.signatures.length, 2);
      t.throws(() => verifyRoleSignatures(metadata, 'targets', { keyids: [pair.keyId, twin.keyId], threshold: 2 }, keys), {
        instanceOf: SignatureError,
        message: /^targets is signed by 1 of the 2 required keys/,
      }, `${algorithm} ${name}`);
    }
    // Control: two different keys meet it.
    const keys = { [pair.keyId]: pair.publicKey, [other.keyId]: other.publicKey };
    t.notThrows(() => verifyRoleSignatures(signMetadata(buildTargets(1, '2100-01-01T00:00:00Z'), [pair, other]), 'targets', { keyids: [pair.keyId, other.keyId], threshold: 2 }, keys));
  }
});

/** Serves root v2 listing the root key once more, as `twin`, with a root threshold of 2 signed by the one key under both IDs. */
function serveRootWithTwin(fx: AttackFixture, base: RootSigned, pair: KeyPair, twin: KeyPair): void {
  const root = structuredClone(base);
  root.version = base.version + 1;
  root.keys[twin.keyId] = twin.publicKey;
  root.roles.root = { keyids: [pair.keyId, twin.keyId], threshold: 2 };
  fx.sim.root = root;
  fx.sim.publishRoot([pair, twin]);
}

for (const algorithm of ALGORITHMS) {
  test(`root_threshold_met_by_one_key_in_two_encodings (${algorithm}): refused for every encoding`, async (t) => {
    const pair = await generateKeyPair(algorithm);
    const fx = await attackFixture(t, { rootKeys: [pair] });
    const base = structuredClone(fx.sim.root);
    const encodings = otherEncodings(pair);
    const message = new RegExp(`^root v2 of ${fx.gun.replace(/[./]/g, '\\$&')} lists one ${pair.publicKey.keytype} key twice, under IDs [0-9a-f]{8} and [0-9a-f]{8} \\(the same public key written two ways\\): .*fake a signature threshold`);
    serveRootWithTwin(fx, base, pair, under(pair, encodings[0]!.key));
    await assertRefusedEverywhere(t, fx, { errorClass: MalformedMetadataError, code: 'MALFORMED_METADATA', message });
    const before = await trustState(fx.home, fx.gun);
    for (const { name, key } of encodings.slice(1)) {
      serveRootWithTwin(fx, base, pair, under(pair, key));
      await assertRefused(t, fx.puller().resolve(fx.ref), MalformedMetadataError, 'MALFORMED_METADATA', message);
      t.deepEqual(await trustState(fx.home, fx.gun), before, name);
    }
    // An honest root v2 is accepted afterwards.
    fx.sim.root = structuredClone(base);
    fx.sim.root.version = 2;
    fx.sim.publishRoot([pair]);
    await assertRecovers(t, fx, digestOf('a'));
  });
}

/** Delegates `targets/ci` (tags ci-*) to `keys` with `threshold`, signed into it by `signers`, with tag ci-1. */
function serveDelegation(fx: AttackFixture, keys: Record<string, TufKey>, threshold: number, signers: KeyPair[]): void {
  const { sim } = fx;
  sim.targets.delegations = {
    keys,
    roles: [{ name: 'targets/ci', keyids: Object.keys(keys), threshold, terminating: false, paths: [`${sim.gun}:ci-*`] }],
  };
  sim.signers.set('targets/ci', signers);
  sim.delegates.set('targets/ci', buildTargets(0, sim.expiry('targets')));
  sim.addTarget('ci-1', digestOf('c'), 10, 'targets/ci');
  sim.publishTargets('targets/ci');
  sim.publishTargets();
}

for (const algorithm of ALGORITHMS) {
  test(`delegation_threshold_met_by_one_key_in_two_encodings (${algorithm}): refused for every encoding`, async (t) => {
    const fx = await attackFixture(t);
    const ciRef = `${fx.gun}:ci-1`;
    const pair = await generateKeyPair(algorithm);
    for (const { name, key } of otherEncodings(pair)) {
      const twin = under(pair, key);
      serveDelegation(fx, { [pair.keyId]: pair.publicKey, [twin.keyId]: key }, 2, [pair, twin]);
      const before = await trustState(fx.home, fx.gun);
      await assertRefused(
        t,
        fx.puller().resolve(ciRef),
        MalformedMetadataError,
        'MALFORMED_METADATA',
        new RegExp(`^targets v\\d+ of .* delegates to keys but lists one ${pair.publicKey.keytype} key twice, under IDs`),
      );
      // The timestamp and snapshot verified before the refused targets are kept (client workflow).
      assertOnlyKept(t, before, await trustState(fx.home, fx.gun), ['timestamp.json', 'snapshot.json'], name);
    }
    // Two different keys of a threshold of 2 are fine.
    const other = await generateKeyPair(algorithm);
    serveDelegation(fx, { [pair.keyId]: pair.publicKey, [other.keyId]: other.publicKey }, 2, [pair, other]);
    t.is((await fx.puller().resolve(ciRef)).digest, digestOf('c'));
  });
}

test('delegation_key_under_a_foreign_id: refused', async (t) => {
  const fx = await attackFixture(t);
  const pair = await generateKeyPair();
  const fakeId = 'f'.repeat(64);
  serveDelegation(fx, { [fakeId]: pair.publicKey }, 1, [under(pair, pair.publicKey, fakeId)]);
  fx.ref = `${fx.gun}:ci-1`;
  await assertRefusedEverywhere(t, fx, {
    errorClass: MalformedMetadataError,
    code: 'MALFORMED_METADATA',
    message: /^targets v\d+ of .* delegates to keys but lists a key under ID ffffffff, which is not that key's ID/,
    kept: ['timestamp.json', 'snapshot.json'],
  });
});

test('keys with extra fields (as other TUF repositories write them) verify under their specification key IDs', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const pair = await generateKeyPair('ecdsa-p256');
  const publicKey = { ...pair.publicKey, keyid_hash_algorithms: ['sha256', 'sha512'], 'x-tuf-on-ci-keyowner': '@publisher' } as TufKey;
  const keyId = sha256(canonicalBytes(publicKey));
  const [oldKey] = sim.signers.get('targets')!;
  sim.root.version += 1;
  delete sim.root.keys[oldKey!.keyId];
  sim.root.keys[keyId] = publicKey;
  sim.root.roles.targets = { keyids: [keyId], threshold: 1 };
  sim.publishRoot();
  sim.signers.set('targets', [under(pair, publicKey, keyId)]);
  sim.addTarget('v2', digestOf('b'), 10);
  sim.publishTargets();
  t.is((await fx.puller().resolve(`${fx.gun}:v2`)).digest, digestOf('b'));
  const fresh = await fx.freshHome();
  t.is((await fx.cli(['resolve', `${fx.gun}:v2`], { TAGTRUST_HOME: fresh })).code, 0);
});
