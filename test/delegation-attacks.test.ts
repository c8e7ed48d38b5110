/**
 * Attacks on delegated roles, against the real server with crafted metadata. Each test publishes
 * what a malicious or careless delegate could send and checks the refusal (status, then code) and
 * that nothing was stored. To be folded into the attack harness (test/harness) later.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { NotSignedError } from '@tagtrust/client';
import { LevelStore, startServer } from '@tagtrust/server';
import { OnlineKeys } from '../server/src/online-keys.js';
import { signSnapshot, signTimestamp } from '../server/src/online-signing.js';
import { generateKeyPair, parseMasterKey, signMetadata } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { buildTargets, expiresAfter, tufBasePath } from '@tagtrust/shared';
import type { AnySigned, Metadata, SnapshotSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import { ADMIN_TOKEN, secretCheckedLog, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { TrustedDelegations } from '../client/src/tuf/trusted-delegations.js';

const GUN = 'registry.example.com/team/app';
const DAY = 24 * 3600_000;

interface Fixture {
  server: TestServer;
  keys: KeyPair[];
  owner: ReturnType<typeof publisherFor>;
}

/** A collection delegating targets/ci to `keys` (threshold as given) for `paths`. */
async function setup(t: ExecutionContext, options: { threshold?: number; keys?: number; paths?: string[] } = {}): Promise<Fixture> {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const keys = await Promise.all(Array.from({ length: options.keys ?? 1 }, () => generateKeyPair()));
  await owner.addDelegation(GUN, 'targets/ci', {
    keys: keys.map((k) => k.publicKey),
    threshold: options.threshold ?? 1,
    paths: options.paths ?? [`${GUN}:dev-*`],
  });
  return { server, keys, owner };
}

function role(version: number, tags: string[], signers: KeyPair[], expires = expiresAfter(new Date(), 30 * DAY)): Metadata<TargetsSigned> {
  const targets = Object.fromEntries(tags.map((name) => [name, { length: 10, hashes: { sha256: 'a'.repeat(64) } }]));
  return signMetadata(buildTargets(version, expires, targets), signers);
}

async function publish(server: TestServer, body: unknown, gun = GUN): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const response = await fetch(`${server.url}${tufBasePath(gun)}/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as never };
}

async function latestVersion(server: TestServer, roleName: string): Promise<number | undefined> {
  const response = await fetch(`${server.url}${tufBasePath(GUN)}/${encodeURIComponent(roleName)}.json`);
  if (response.status === 404) return undefined;
  return ((await response.json()) as Metadata).signed.version;
}

test('delegate_signs_outside_paths: the server refuses it and stores nothing', async (t) => {
  const { server, keys } = await setup(t);
  const result = await publish(server, { 'targets/ci': role(1, [`${GUN}:dev-1`, `${GUN}:v1.0.0`], keys) });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'SUBSTITUTION');
  t.regex(result.body.error!.message, /targets\/ci may not sign registry\.example\.com\/team\/app:v1\.0\.0: it is outside the paths delegated/);
  t.is(await latestVersion(server, 'targets/ci'), undefined);
  const snapshot = (await (await fetch(`${server.url}${tufBasePath(GUN)}/snapshot.json`)).json()) as Metadata<{ meta: object } & never>;
  t.false('targets/ci.json' in (snapshot.signed as { meta: object }).meta);
});

test('delegate_signs_outside_collection: a pattern wider than the GUN does not widen the collection', async (t) => {
  const { server, keys } = await setup(t, { paths: ['registry.example.com/team/*:dev-*'] });
  const result = await publish(server, { 'targets/ci': role(1, ['registry.example.com/team/other:dev-1'], keys) });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'SUBSTITUTION');
  t.regex(result.body.error!.message, /not a tag of collection registry\.example\.com\/team\/app/);
});

test('delegated_role_below_threshold: 1 of 2 required signatures is refused', async (t) => {
  const { server, keys } = await setup(t, { threshold: 2, keys: 3 });
  const result = await publish(server, { 'targets/ci': role(1, [`${GUN}:dev-1`], [keys[0]!]) });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'BAD_SIGNATURE');
  t.regex(result.body.error!.message, /targets\/ci is signed by 1 of the 2 required keys/);
  t.is(await latestVersion(server, 'targets/ci'), undefined);
  const ok = await publish(server, { 'targets/ci': role(1, [`${GUN}:dev-1`], [keys[0]!, keys[2]!]) });
  t.is(ok.status, 200);
});

test('delegated_role_signed_by_unlisted_key: the delegator does not trust it', async (t) => {
  const { server } = await setup(t);
  const stranger = await generateKeyPair();
  const result = await publish(server, { 'targets/ci': role(1, [`${GUN}:dev-1`], [stranger]) });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'BAD_SIGNATURE');
});

test('replayed_old_delegated_version: a delegated role version at or below the latest is refused', async (t) => {
  const { server, keys } = await setup(t);
  const v1 = role(1, [`${GUN}:dev-1`], keys);
  t.is((await publish(server, { 'targets/ci': v1 })).status, 200);
  t.is((await publish(server, { 'targets/ci': role(2, [`${GUN}:dev-2`], keys) })).status, 200);
  const replay = await publish(server, { 'targets/ci': v1 });
  t.is(replay.status, 409);
  t.is(replay.body.error?.code, 'VERSION_CONFLICT');
  t.is(await latestVersion(server, 'targets/ci'), 2);
  const gap = await publish(server, { 'targets/ci': role(4, [`${GUN}:dev-4`], keys) });
  t.is(gap.status, 400);
  t.is(gap.body.error?.code, 'BAD_VERSION');
  // The client resolves the latest, not the replayed version.
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:dev-2`)).digest, `sha256:${'a'.repeat(64)}`);
  await t.throwsAsync(puller.resolve(`${GUN}:dev-1`), { code: 'NOT_SIGNED' });
});

test('delegated_role_expired: refused', async (t) => {
  const { server, keys } = await setup(t);
  const result = await publish(server, { 'targets/ci': role(1, [`${GUN}:dev-1`], keys, '2020-01-01T00:00:00Z') });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'EXPIRED');
});

test('undelegated_role: a role nobody delegates is refused', async (t) => {
  const { server, keys } = await setup(t);
  const result = await publish(server, { 'targets/ghost': role(1, [`${GUN}:dev-1`], keys) });
  t.is(result.status, 404);
  t.is(result.body.error?.code, 'NOT_FOUND');
  t.regex(result.body.error!.message, /targets\/ghost is not delegated by targets/);
});

test('nested_delegate_outside_delegator_paths: a child cannot widen what its delegator may sign', async (t) => {
  const { server, keys } = await setup(t);
  const child = await generateKeyPair();
  const ci = role(1, [], keys);
  ci.signed.delegations = {
    keys: { [child.keyId]: child.publicKey },
    roles: [{ name: 'targets/ci/bot', keyids: [child.keyId], threshold: 1, terminating: false, paths: [`${GUN}:*`] }],
  };
  const signedCi = signMetadata(ci.signed, keys);
  t.is((await publish(server, { 'targets/ci': signedCi })).status, 200);
  const result = await publish(server, { 'targets/ci/bot': role(1, [`${GUN}:v1.0.0`], [child]) });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'SUBSTITUTION');
  t.regex(result.body.error!.message, /outside the paths delegated to targets\/ci \(/);
  t.is((await publish(server, { 'targets/ci/bot': role(1, [`${GUN}:dev-9`], [child]) })).status, 200);
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:dev-9`)).size, 10);
});

test('delegation_to_foreign_name: a delegator can only delegate its own children', async (t) => {
  const { server, keys } = await setup(t);
  const ci = role(1, [], keys);
  ci.signed.delegations = {
    keys: { [keys[0]!.keyId]: keys[0]!.publicKey },
    roles: [{ name: 'targets/release', keyids: [keys[0]!.keyId], threshold: 1, terminating: false, paths: [`${GUN}:v*`] }],
  };
  const result = await publish(server, { 'targets/ci': signMetadata(ci.signed, keys) });
  t.is(result.status, 400);
  t.is(result.body.error?.code, 'INVALID_INPUT');
  t.regex(result.body.error!.message, /can only be delegated by targets, not by targets\/ci/);
});

test('delegation_with_hash_prefixes_or_glob_syntax: refused', async (t) => {
  const { server, keys } = await setup(t);
  const ci = role(1, [], keys);
  ci.signed.delegations = {
    keys: { [keys[0]!.keyId]: keys[0]!.publicKey },
    roles: [{ name: 'targets/ci/x', keyids: [keys[0]!.keyId], threshold: 1, terminating: false, paths: [`${GUN}:{dev,v}*`] }],
  };
  const result = await publish(server, { 'targets/ci': signMetadata(ci.signed, keys) });
  t.is(result.body.error?.code, 'INVALID_INPUT');
  t.regex(result.body.error!.message, /may only hold reference characters/);
});

test('client_ignores_delegate_tags_outside_paths: a lookup never consults a role whose paths do not match', (t) => {
  // What a malicious server could serve: targets/ci signing v1.0.0 although delegated only dev-*.
  // The client's lookup order (as tuf-js walks it) never reaches targets/ci for v1.0.0.
  const ci = { keyids: ['aa'], threshold: 1, name: 'targets/ci', terminating: false, paths: [`${GUN}:dev-*`] };
  const top = signMetadata({ ...buildTargets(2, expiresAfter(new Date(), DAY)), delegations: { keys: {}, roles: [ci] } }, []);
  const tree = new TrustedDelegations({ _type: 'snapshot', spec_version: '1.0.31', version: 1, expires: expiresAfter(new Date(), DAY), meta: {} }, top, new Date());
  t.deepEqual(tree.lookupOrder(`${GUN}:v1.0.0`).map(({ role }) => role), ['targets']);
  t.deepEqual(tree.lookupOrder(`${GUN}:dev-1`).map(({ role }) => role), ['targets', 'targets/ci']);
  // Out-of-order use is a caller bug, not a verification failure.
  t.throws(() => tree.update('targets/ci/x', Buffer.from('{}')), { name: 'UsageError' });
});

test('client_ignores_out_of_path_tags_served_by_a_compromised_server', async (t) => {
  // The server refuses such metadata, so this writes it behind the server's back (as a compromised
  // server would serve it): targets/ci v2 signs v1.0.0 outside its dev-* paths, listed by a validly
  // signed snapshot. Pullers must not resolve v1.0.0 through targets/ci.
  const masterKey = 'ab'.repeat(32);
  const server = await startTestServer({ masterKey });
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const ci = await generateKeyPair();
  await owner.addDelegation(GUN, 'targets/ci', { keys: [ci.publicKey], paths: ['dev-*'] });
  t.is((await publish(server, { 'targets/ci': role(1, [`${GUN}:dev-1`], [ci]) })).status, 200);
  const syncedHome = await tempHome();
  const synced = pullerFor(server.url, syncedHome);
  t.truthy(await synced.resolve(`${GUN}:dev-1`));

  await server.server.close();
  const store = await LevelStore.open(join(server.dataDir, 'db'));
  const onlineKeys = new OnlineKeys(store, parseMasterKey(masterKey));
  const [snapshotKey, timestampKey] = [await onlineKeys.signer(GUN, 'snapshot'), await onlineKeys.signer(GUN, 'timestamp')];
  const latest = async <T>(name: string) => JSON.parse((await store.getLatest(GUN, name))!.text) as Metadata<T & AnySigned>;
  const snapshot = await latest<SnapshotSigned>('snapshot');
  const timestamp = await latest<TimestampSigned>('timestamp');
  const evil = { role: 'targets/ci', version: 2, text: JSON.stringify(role(2, [`${GUN}:dev-1`, `${GUN}:v1.0.0`], [ci])) };
  const newSnapshot = signSnapshot(snapshot.signed as SnapshotSigned, [evil], [snapshotKey!], new Date(), DAY);
  const newTimestamp = signTimestamp(timestamp.signed.version, newSnapshot, [timestampKey!], new Date(), DAY);
  await store.commit({
    gun: GUN,
    expectedLatest: { 'targets/ci': 1, snapshot: snapshot.signed.version, timestamp: timestamp.signed.version },
    files: [evil, newSnapshot, newTimestamp],
  });
  await store.close();
  server.server = await startServer({ listen: '127.0.0.1:0', dataDir: server.dataDir, adminToken: ADMIN_TOKEN, masterKey, log: secretCheckedLog(t) });
  server.url = server.server.url;

  for (const puller of [pullerFor(server.url, await tempHome()), pullerFor(server.url, syncedHome)]) {
    await t.throwsAsync(puller.resolve(`${GUN}:v1.0.0`), { instanceOf: NotSignedError });
    t.is((await puller.resolve(`${GUN}:dev-1`)).size, 10);
    t.deepEqual((await puller.list(GUN)).map((tag) => tag.tag), ['dev-1']);
  }
});
