/**
 * Renewal of the server-signed roles. Pullers check expiry against the real time, so each test
 * starts its server's clock in the past, publishes, and then moves the server's clock to now: the
 * metadata signed "back then" is expired for the puller unless the server renews it.
 */
import test from 'ava';
import { ExpiredMetadataError } from '@tagtrust/client';
import { signMetadata } from '@tagtrust/keys';
import { buildTargets, expiresAfter } from '@tagtrust/shared';
import type { Metadata, SnapshotSigned, TimestampSigned } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { assertUnchanged, collectionKeys, getTufFile, publishRaw, servedState } from './helpers/metadata.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** A server whose clock runs `behindMs` behind real time, and a collection signed at that time. */
async function serverInThePast(t: import('ava').ExecutionContext, behindMs: number, name: string, config = {}) {
  const server = await startTestServer(config);
  t.teardown(() => server.close());
  server.clock.advance(-behindMs);
  const gun = `registry.example.com/renewal/${name}`;
  const publisherHome = await tempHome();
  await publisherFor(server.url, publisherHome).init(gun);
  // The client refuses to sign on top of metadata that is expired in real time, so v1 is signed
  // here directly with the collection's targets key.
  const { targets } = await collectionKeys(publisherHome, gun);
  const signed = signMetadata(buildTargets(2, expiresAfter(new Date(), 30 * DAY), { [`${gun}:v1`]: { length: 10, hashes: { sha256: 'a'.repeat(64) } } }), [targets]);
  const published = await publishRaw(server.url, gun, { targets: signed });
  t.is(published.status, 200, published.text);
  return { server, gun, publisherHome };
}

/** A role's metadata at an exact version (reading the exact file never triggers a renewal). */
async function exact<T extends Metadata>(server: TestServer, gun: string, role: string, version: number): Promise<T | undefined> {
  const result = await getTufFile(server.url, gun, `${version}.${role}.json`);
  return result.status === 200 ? (result.json as T) : undefined;
}

test('update_timestamp_expired: the timestamp is renewed when the clock passes 6 h', async (t) => {
  const { server, gun, publisherHome } = await serverInThePast(t, 7 * HOUR, 'timestamp');
  const stale = await exact<Metadata<TimestampSigned>>(server, gun, 'timestamp', 2);
  t.true(Date.parse(stale!.signed.expires) < Date.now(), 'the timestamp signed 7 h ago has expired');

  // Before the server's clock moves, it serves that timestamp and pullers refuse it.
  const pullerHome = await tempHome();
  const refused = await t.throwsAsync(pullerFor(server.url, pullerHome).resolve(`${gun}:v1`), { instanceOf: ExpiredMetadataError });
  t.is(refused.code, 'EXPIRED');

  server.clock.advance(7 * HOUR);
  const resolved = await pullerFor(server.url, pullerHome).resolve(`${gun}:v1`);
  t.is(resolved.digest, digestOf('a'));
  t.is(resolved.metadata.timestamp.version, 3);
  t.is(resolved.metadata.snapshot.version, 2, 'the snapshot (7 d lifetime) was not due');
  const expires = Date.parse(resolved.metadata.timestamp.expires);
  t.true(expires > Date.now() + 5 * HOUR && expires <= Date.now() + 6 * HOUR + 1000);

  // Publishing continues from the renewed versions.
  await publisherFor(server.url, publisherHome).sign(`${gun}:v2`, { digest: digestOf('b'), size: 10 });
  const after = await pullerFor(server.url, pullerHome).resolve(`${gun}:v2`);
  t.deepEqual([after.metadata.targets.version, after.metadata.snapshot.version, after.metadata.timestamp.version], [3, 3, 4]);
});

test('update_snapshot_expired: snapshot and timestamp are renewed together, listing the same targets', async (t) => {
  const { server, gun } = await serverInThePast(t, 8 * DAY, 'snapshot');
  const oldSnapshot = await exact<Metadata<SnapshotSigned>>(server, gun, 'snapshot', 2);
  t.true(Date.parse(oldSnapshot!.signed.expires) < Date.now());

  server.clock.advance(8 * DAY);
  const resolved = await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`);
  t.is(resolved.digest, digestOf('a'));
  t.is(resolved.metadata.snapshot.version, 3);
  t.is(resolved.metadata.timestamp.version, 3);
  t.is(resolved.metadata.targets.version, 2);
  const snapshot = await exact<Metadata<SnapshotSigned>>(server, gun, 'snapshot', 3);
  t.deepEqual(snapshot!.signed.meta, oldSnapshot!.signed.meta);
  t.true(Date.parse(snapshot!.signed.expires) > Date.now() + 6 * DAY);
});

test('the snapshot is renewed once less than half its lifetime remains', async (t) => {
  const { server, gun } = await serverInThePast(t, 4 * DAY, 'half-life');
  server.clock.advance(4 * DAY);
  const resolved = await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`);
  t.is(resolved.metadata.snapshot.version, 3, 'a snapshot with 3 of 7 days left is renewed');
  t.is(resolved.metadata.timestamp.version, 3);
});

test('background renewal renews every due collection without any read', async (t) => {
  const { server, gun } = await serverInThePast(t, 7 * HOUR, 'background-a');
  const other = 'registry.example.com/renewal/background-b';
  await publisherFor(server.url, await tempHome()).init(other);
  server.clock.advance(7 * HOUR);

  t.is(await server.server.repository.renewAll(), 2);
  t.truthy(await exact(server, gun, 'timestamp', 3));
  t.truthy(await exact(server, other, 'timestamp', 2));
  t.is(await server.server.repository.renewAll(), 0, 'nothing is due right after a renewal');
  t.is((await servedState(server.url, gun)).timestamp?.version, 3);
});

test('the renewal timer runs on its own', async (t) => {
  const { server, gun } = await serverInThePast(t, 7 * HOUR, 'timer', { renewInterval: 50 });
  server.clock.advance(7 * HOUR);
  const deadline = Date.now() + 5000;
  while (!(await exact(server, gun, 'timestamp', 3)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  t.truthy(await exact(server, gun, 'timestamp', 3));
});

test('nothing is renewed while not due, also across a restart', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const gun = 'registry.example.com/renewal/quiet';
  await publisherFor(server.url, await tempHome()).init(gun);
  const before = await servedState(server.url, gun);
  server.clock.advance(2 * HOUR);
  await assertUnchanged(t, server.url, gun, before);
  t.is(await server.server.repository.renewAll(), 0);
  await server.restart();
  await assertUnchanged(t, server.url, gun, before);
  t.is(await server.server.repository.renewAll(), 0);

  // Past the half-life of the timestamp (3 of 6 h), a read renews it.
  server.clock.advance(1.5 * HOUR);
  t.is((await servedState(server.url, gun)).timestamp?.version, 2);
});
