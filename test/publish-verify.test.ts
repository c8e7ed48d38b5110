/**
 * POST publish verifies everything before storing anything: signatures (targets by the root's
 * targets keys; a new root by the old and the new root thresholds), versions (exactly current + 1:
 * stale is 409 with the current version, a gap is BAD_VERSION), expiry, and target names inside
 * the collection. Metadata is crafted with the collection's real keys; every refusal is checked to
 * leave the stored metadata unchanged, and a control publish shows the crafting itself is valid.
 */
import test from 'ava';
import type { KeyPair } from '@tagtrust/keys';
import { generateKeyPair, keyIdOf, signMetadata } from '@tagtrust/keys';
import { buildRoot, buildTargets, expiresAfter, tufBasePath } from '@tagtrust/shared';
import type { Metadata, RootSigned, TargetFileInfo, TargetsSigned, TufKey } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import type { CollectionKeys, HttpResult } from './helpers/metadata.js';
import { apiError, assertUnchanged, collectionKeys, latestMetadata, publishRaw, servedState } from './helpers/metadata.js';

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

const DAY = 24 * 3600_000;
const future = () => expiresAfter(new Date(), 30 * DAY);
const past = () => expiresAfter(new Date(), -DAY);
const entry = (char: string, length = 100): TargetFileInfo => ({ length, hashes: { sha256: char.repeat(64) } });

interface Collection {
  gun: string;
  home: string;
  keys: CollectionKeys;
}

/** A collection created by the real client (`init`) with one signed tag; its keys read back from the home. */
async function newCollection(name: string): Promise<Collection> {
  const gun = `registry.example.com/verify/${name}`;
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 100 });
  return { gun, home, keys: await collectionKeys(home, gun) };
}

function expectRefused(t: import('ava').ExecutionContext, result: HttpResult, status: number, code: string, what: string): void {
  t.is(result.status, status, `${what}: ${result.text}`);
  if (result.status === status) t.is(apiError(result).code, code as never, what);
}

async function onlineKeys(gun: string): Promise<{ snapshot: TufKey; timestamp: TufKey }> {
  const get = async (role: string) =>
    (await (await fetch(`${server.url}${tufBasePath(gun)}/${role}.key`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as TufKey;
  return { snapshot: await get('snapshot'), timestamp: await get('timestamp') };
}

const single = (key: TufKey) => ({ keys: { [keyIdOf(key)]: key }, threshold: 1 });

test('targets that are badly signed, stale, skip versions, expired or name other collections are refused', async (t) => {
  const { gun, keys } = await newCollection('targets');
  const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, gun, 'targets');
  t.is(current.signed.version, 2);
  const next = (overrides: Partial<TargetsSigned> = {}) => ({ ...buildTargets(3, future(), { ...current.signed.targets, [`${gun}:v2`]: entry('b') }), ...overrides });
  const stranger = await generateKeyPair();
  const before = await servedState(server.url, gun);

  const tampered = signMetadata(next(), [keys.targets]);
  tampered.signed.targets[`${gun}:v2`] = entry('e');
  const cases: [string, Metadata<TargetsSigned>, number, string][] = [
    ['signed by a key the root does not list', signMetadata(next(), [stranger]), 400, 'BAD_SIGNATURE'],
    ['signed by the root key instead of the targets key', signMetadata(next(), [keys.root]), 400, 'BAD_SIGNATURE'],
    ['changed after signing', tampered, 400, 'BAD_SIGNATURE'],
    ['without signatures', { signed: next(), signatures: [] }, 400, 'BAD_SIGNATURE'],
    ['at the current version', signMetadata(next({ version: 2 }), [keys.targets]), 409, 'VERSION_CONFLICT'],
    ['at an older version', signMetadata(next({ version: 1 }), [keys.targets]), 409, 'VERSION_CONFLICT'],
    ['skipping a version', signMetadata(next({ version: 4 }), [keys.targets]), 400, 'BAD_VERSION'],
    ['already expired', signMetadata(next({ expires: past() }), [keys.targets]), 400, 'EXPIRED'],
    ['listing a tag of another collection', signMetadata(next({ targets: { 'registry.example.com/verify/other:v1': entry('c') } }), [keys.targets]), 400, 'SUBSTITUTION'],
    ['listing a tag of a sub-repository', signMetadata(next({ targets: { [`${gun}/sub:v1`]: entry('c') } }), [keys.targets]), 400, 'SUBSTITUTION'],
    ['listing a tag of a name-prefix sibling', signMetadata(next({ targets: { [`${gun}x:v1`]: entry('c') } }), [keys.targets]), 400, 'SUBSTITUTION'],
    ['listing a bare tag', signMetadata(next({ targets: { v1: entry('c') } }), [keys.targets]), 400, 'SUBSTITUTION'],
    ['with an uppercase digest', signMetadata(next({ targets: { [`${gun}:v2`]: { length: 1, hashes: { sha256: 'A'.repeat(64) } } } }), [keys.targets]), 400, 'MALFORMED_METADATA'],
    ['with a short digest', signMetadata(next({ targets: { [`${gun}:v2`]: { length: 1, hashes: { sha256: 'ab'.repeat(31) } } } }), [keys.targets]), 400, 'INVALID_INPUT'],
    ['without a sha256 digest', signMetadata(next({ targets: { [`${gun}:v2`]: { length: 1, hashes: { sha512: 'ab'.repeat(64) } } } }), [keys.targets]), 400, 'INVALID_INPUT'],
    ['with length 0', signMetadata(next({ targets: { [`${gun}:v2`]: entry('b', 0) } }), [keys.targets]), 400, 'INVALID_INPUT'],
  ];
  for (const [what, targets, status, code] of cases) {
    expectRefused(t, await publishRaw(server.url, gun, { targets }), status, code, what);
  }
  await assertUnchanged(t, server.url, gun, before);

  // Control: the same crafting, correctly signed at current + 1, is accepted.
  const accepted = await publishRaw(server.url, gun, { targets: signMetadata(next(), [keys.targets]) });
  t.is(accepted.status, 200, accepted.text);
  t.deepEqual(accepted.json, { gun, versions: { targets: 3, snapshot: 3, timestamp: 3 } });
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v2`)).digest, digestOf('b'));
});

test('a stale publish is 409 and says which version is current', async (t) => {
  const { gun, keys } = await newCollection('stale');
  const before = await servedState(server.url, gun);
  const stale = signMetadata(buildTargets(2, future(), { [`${gun}:v9`]: entry('f') }), [keys.targets]);
  const result = await publishRaw(server.url, gun, { targets: stale });
  t.is(result.status, 409);
  const error = apiError(result);
  t.is(error.code, 'VERSION_CONFLICT');
  t.is(error.role, 'targets');
  t.is(error.currentVersion, 2);
  t.regex(error.message, /v2 is stale/);
  await assertUnchanged(t, server.url, gun, before);
});

test('root rotation needs the old and the new root thresholds, and clients follow it', async (t) => {
  const { gun, keys } = await newCollection('rotation');
  const pullerHome = await tempHome();
  t.is((await pullerFor(server.url, pullerHome).resolve(`${gun}:v1`)).metadata.root.version, 1);
  const current = await latestMetadata<Metadata<RootSigned>>(server.url, gun, 'root');
  const online = await onlineKeys(gun);
  const newRootKey = await generateKeyPair();
  const rotated = (version: number, overrides: Partial<RootSigned> = {}, rootKey: KeyPair = newRootKey, targetsKey: KeyPair = keys.targets): RootSigned => ({
    ...buildRoot({
      version,
      expires: future(),
      keys: { root: single(rootKey.publicKey), targets: single(targetsKey.publicKey), snapshot: single(online.snapshot), timestamp: single(online.timestamp) },
    }),
    ...overrides,
  });
  let before = await servedState(server.url, gun);

  const refusals: [string, Metadata<RootSigned>, number, string][] = [
    ['signed by the new root key only', signMetadata(rotated(2), [newRootKey]), 400, 'UNTRUSTED_ROOT'],
    ['signed by the old root key only', signMetadata(rotated(2), [keys.root]), 400, 'BAD_SIGNATURE'],
    ['signed by the targets key', signMetadata(rotated(2), [keys.targets, newRootKey]), 400, 'UNTRUSTED_ROOT'],
    ['at the current version', signMetadata(rotated(1), [keys.root, newRootKey]), 409, 'VERSION_CONFLICT'],
    ['skipping a version', signMetadata(rotated(3), [keys.root, newRootKey]), 400, 'BAD_VERSION'],
    ['already expired', signMetadata(rotated(2, { expires: past() }), [keys.root, newRootKey]), 400, 'EXPIRED'],
    ['without consistent snapshots', signMetadata(rotated(2, { consistent_snapshot: false }), [keys.root, newRootKey]), 400, 'INVALID_INPUT'],
  ];
  const stranger = await generateKeyPair();
  const foreignTimestamp = rotated(2);
  foreignTimestamp.keys = { ...foreignTimestamp.keys, [stranger.keyId]: stranger.publicKey };
  foreignTimestamp.roles = { ...foreignTimestamp.roles, timestamp: { keyids: [stranger.keyId], threshold: 1 } };
  refusals.push(['listing a timestamp key the server does not hold', signMetadata(foreignTimestamp, [keys.root, newRootKey]), 400, 'INVALID_INPUT']);
  for (const [what, root, status, code] of refusals) {
    expectRefused(t, await publishRaw(server.url, gun, { root }), status, code, what);
  }
  await assertUnchanged(t, server.url, gun, before);
  t.is(current.signed.version, 1);

  const accepted = await publishRaw(server.url, gun, { root: signMetadata(rotated(2), [keys.root, newRootKey]) });
  t.is(accepted.status, 200, accepted.text);
  t.deepEqual(accepted.json, { gun, versions: { root: 2, snapshot: 3, timestamp: 3 } });
  const followed = await pullerFor(server.url, pullerHome).resolve(`${gun}:v1`);
  t.is(followed.metadata.root.version, 2);
  t.is(followed.digest, digestOf('a'));

  // The old root key alone can no longer rotate the root.
  before = await servedState(server.url, gun);
  const third = await generateKeyPair();
  expectRefused(t, await publishRaw(server.url, gun, { root: signMetadata(rotated(3, {}, third), [keys.root, third]) }), 400, 'UNTRUSTED_ROOT', 'signed by the replaced root key');
  await assertUnchanged(t, server.url, gun, before);
});

test('a root that changes the targets key needs targets re-signed in the same publish, all or nothing', async (t) => {
  const { gun, keys } = await newCollection('targets-rotation');
  const online = await onlineKeys(gun);
  const newTargetsKey = await generateKeyPair();
  const root = signMetadata(
    buildRoot({
      version: 2,
      expires: future(),
      keys: { root: single(keys.root.publicKey), targets: single(newTargetsKey.publicKey), snapshot: single(online.snapshot), timestamp: single(online.timestamp) },
    }),
    [keys.root],
  );
  const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, gun, 'targets');
  const targets = (version: number, key: KeyPair) => signMetadata(buildTargets(version, future(), current.signed.targets), [key]);
  const before = await servedState(server.url, gun);

  expectRefused(t, await publishRaw(server.url, gun, { root }), 400, 'BAD_SIGNATURE', 'root alone: current targets are signed by the replaced key');
  expectRefused(t, await publishRaw(server.url, gun, { root, targets: targets(3, keys.targets) }), 400, 'BAD_SIGNATURE', 'targets signed by the replaced key');
  expectRefused(t, await publishRaw(server.url, gun, { root, targets: targets(4, newTargetsKey) }), 400, 'BAD_VERSION', 'a valid root with targets at a wrong version');
  expectRefused(t, await publishRaw(server.url, gun, { root, targets: targets(2, newTargetsKey) }), 409, 'VERSION_CONFLICT', 'a valid root with stale targets');
  await assertUnchanged(t, server.url, gun, before);

  const accepted = await publishRaw(server.url, gun, { root, targets: targets(3, newTargetsKey) });
  t.is(accepted.status, 200, accepted.text);
  t.deepEqual(accepted.json, { gun, versions: { root: 2, targets: 3, snapshot: 3, timestamp: 3 } });
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`)).digest, digestOf('a'));
});

test('a new collection needs a self-signed root v1 and targets v1 of its own tags', async (t) => {
  const gun = 'registry.example.com/verify/fresh';
  const online = await onlineKeys(gun);
  const rootKey = await generateKeyPair();
  const targetsKey = await generateKeyPair();
  const root = (version = 1) =>
    buildRoot({
      version,
      expires: future(),
      keys: { root: single(rootKey.publicKey), targets: single(targetsKey.publicKey), snapshot: single(online.snapshot), timestamp: single(online.timestamp) },
    });
  const targets = (version = 1, list: TargetsSigned['targets'] = {}) => signMetadata(buildTargets(version, future(), list), [targetsKey]);
  const before = await servedState(server.url, gun);
  t.deepEqual(before, { root: undefined, targets: undefined, snapshot: undefined, timestamp: undefined });

  const cases: [string, unknown, number, string][] = [
    ['targets without a root', { targets: targets() }, 400, 'INVALID_INPUT'],
    ['a root without targets', { root: signMetadata(root(), [rootKey]) }, 400, 'INVALID_INPUT'],
    ['a root starting at v2', { root: signMetadata(root(2), [rootKey]), targets: targets() }, 400, 'BAD_VERSION'],
    ['targets starting at v2', { root: signMetadata(root(), [rootKey]), targets: targets(2) }, 400, 'BAD_VERSION'],
    ['a root signed by another key', { root: signMetadata(root(), [targetsKey]), targets: targets() }, 400, 'BAD_SIGNATURE'],
    ['targets of another collection', { root: signMetadata(root(), [rootKey]), targets: targets(1, { 'registry.example.com/verify/other:v1': entry('a') }) }, 400, 'SUBSTITUTION'],
  ];
  for (const [what, body, status, code] of cases) {
    expectRefused(t, await publishRaw(server.url, gun, body), status, code, what);
  }
  await assertUnchanged(t, server.url, gun, before);

  const accepted = await publishRaw(server.url, gun, { root: signMetadata(root(), [rootKey]), targets: targets(1, { [`${gun}:v1`]: entry('a') }) });
  t.is(accepted.status, 200, accepted.text);
  t.deepEqual(accepted.json, { gun, versions: { root: 1, targets: 1, snapshot: 1, timestamp: 1 } });
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`)).digest, digestOf('a'));
});

test('concurrent publishes of the same next version: exactly one lands, the others are 409', async (t) => {
  const { gun, keys } = await newCollection('race');
  const bodies = Array.from({ length: 10 }, (_, i) => ({
    targets: signMetadata(buildTargets(3, future(), { [`${gun}:v1`]: entry('a'), [`${gun}:racer`]: entry(i.toString(16)) }), [keys.targets]),
  }));
  const results = await Promise.all(bodies.map((body) => publishRaw(server.url, gun, body)));
  const winners = results.flatMap((r, i) => (r.status === 200 ? [i] : []));
  t.is(winners.length, 1, results.map((r) => r.status).join(','));
  for (const result of results) {
    if (result.status === 200) continue;
    t.is(result.status, 409);
    t.deepEqual({ ...apiError(result), message: '', requestId: '' }, { code: 'VERSION_CONFLICT', message: '', role: 'targets', currentVersion: 3, requestId: '' });
  }
  const state = await servedState(server.url, gun);
  t.is(state.targets?.text, JSON.stringify(bodies[winners[0]!]!.targets));
  t.is(state.snapshot?.version, 3);
  t.is(state.timestamp?.version, 3);
});
