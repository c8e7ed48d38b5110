/**
 * The publish/pull flow end to end against the real server: init, sign, move, unsign, resolve and
 * list; concurrent signers; and a server restart on the same data directory.
 */
import test from 'ava';
import { mkdir, readdir, copyFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describeManifest, NotSignedError, SignatureError } from '@tagtrust/client';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { assertUnchanged, getTufFile, servedState } from './helpers/metadata.js';

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

test('init, sign several tags, move a tag, unsign, resolve and list', async (t) => {
  const gun = 'registry.example.com/flow/app';
  const publisher = publisherFor(server.url, await tempHome());
  const puller = pullerFor(server.url, await tempHome());

  const init = await publisher.init(gun);
  t.is(init.gun, gun);
  t.regex(init.rootKeyId, /^[0-9a-f]{64}$/);
  const created = await servedState(server.url, gun);
  t.deepEqual(
    Object.fromEntries(Object.entries(created).map(([role, file]) => [role, file?.version])),
    { root: 1, targets: 1, snapshot: 1, timestamp: 1 },
  );
  t.deepEqual(await puller.list(gun), []);

  t.is((await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 100 })).targetsVersion, 2);
  t.is((await publisher.sign(`${gun}:v2`, { digest: digestOf('b'), size: 200 })).targetsVersion, 3);
  t.is((await publisher.sign(`${gun}:latest@${digestOf('b')}`, { size: 200 })).targetsVersion, 4);

  const v1 = await puller.resolve(`${gun}:v1`);
  t.is(v1.digest, digestOf('a'));
  t.is(v1.size, 100);
  t.is(v1.pinned, `${gun}@${digestOf('a')}`);
  t.deepEqual(
    Object.fromEntries(Object.entries(v1.metadata).map(([role, state]) => [role, state.version])),
    { root: 1, targets: 4, snapshot: 4, timestamp: 4 },
  );
  t.is((await puller.resolve(`${gun}:latest@${digestOf('b')}`)).digest, digestOf('b'));

  // Move `latest` to a new digest: pullers see the move, other tags are untouched.
  t.is((await publisher.sign(`${gun}:latest`, { digest: digestOf('c'), size: 300 })).targetsVersion, 5);
  t.is((await puller.resolve(`${gun}:latest`)).digest, digestOf('c'));
  t.is((await puller.resolve(`${gun}:v1`)).digest, digestOf('a'));

  t.is((await publisher.unsign(`${gun}:v2`)).targetsVersion, 6);
  const unsigned = await t.throwsAsync(puller.resolve(`${gun}:v2`), { instanceOf: NotSignedError });
  t.is(unsigned.code, 'NOT_SIGNED');

  t.deepEqual(await puller.list(gun), [
    { tag: 'latest', reference: `${gun}:latest`, digest: digestOf('c'), size: 300, signedBy: 'targets', keyIds: [init.targetsKeyId] },
    { tag: 'v1', reference: `${gun}:v1`, digest: digestOf('a'), size: 100, signedBy: 'targets', keyIds: [init.targetsKeyId] },
  ]);

  // Unsigning a tag that is not signed is refused before anything is published.
  const before = await servedState(server.url, gun);
  const again = await t.throwsAsync(publisher.unsign(`${gun}:v2`), { instanceOf: NotSignedError });
  t.is(again.code, 'NOT_SIGNED');
  await assertUnchanged(t, server.url, gun, before);
});

test('sign from a manifest file records its digest, size and media type', async (t) => {
  const gun = 'registry.example.com/flow/manifest';
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(gun);
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
  const path = join(home, 'manifest.json');
  await writeFile(path, bytes);

  await publisher.sign(`${gun}:v1`, await describeManifest(path));
  const resolved = await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`);
  t.is(resolved.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  t.is(resolved.size, bytes.length);
  t.is(resolved.mediaType, 'application/vnd.oci.image.manifest.v1+json');
});

test('short docker hub names are normalised to the same collection', async (t) => {
  const publisher = publisherFor(server.url, await tempHome());
  const init = await publisher.init('flowimage');
  t.is(init.gun, 'docker.io/library/flowimage');
  await publisher.sign('flowimage:1.0', { digest: digestOf('d'), size: 42 });
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve('docker.io/library/flowimage:1.0')).digest, digestOf('d'));
  t.is((await puller.resolve('index.docker.io/flowimage:1.0')).digest, digestOf('d'));
  t.deepEqual((await puller.list('flowimage')).map((tag) => tag.reference), ['docker.io/library/flowimage:1.0']);
});

/** A second machine of the same publisher: a new home holding copies of the private keys. */
async function copyKeys(fromHome: string): Promise<string> {
  const home = await tempHome();
  await mkdir(join(home, 'keys'), { recursive: true, mode: 0o700 });
  for (const name of await readdir(join(fromHome, 'keys'))) await copyFile(join(fromHome, 'keys', name), join(home, 'keys', name));
  return home;
}

test.serial('concurrent signers on one collection: 20 parallel signs all land', async (t) => {
  const gun = 'registry.example.com/flow/concurrent';
  const firstHome = await tempHome();
  await publisherFor(server.url, firstHome).init(gun);
  const homes = [firstHome, ...(await Promise.all([1, 2, 3].map(() => copyKeys(firstHome))))];
  // Publishers take turns through the collection's publish lease (test/concurrent-publishers.test.ts).
  const publishers = homes.map((home) => publisherFor(server.url, home));
  const tags = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
  const digest = (i: number) => `sha256:${createHash('sha256').update(`manifest ${i}`).digest('hex')}`;

  const results = await Promise.all(
    tags.map((tag, i) => publishers[i % publishers.length]!.sign(`${gun}:${tag}`, { digest: digest(i), size: 1000 + i })),
  );

  // Every publish produced its own targets version: v2..v21, each exactly once.
  t.deepEqual(
    results.map((r) => r.targetsVersion).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i + 2),
  );
  t.true(results.every((r) => r.attempts === 1), 'with the lease no signer loses a race');
  const listed = await pullerFor(server.url, await tempHome()).list(gun);
  t.deepEqual(
    listed.map((tag) => [tag.tag, tag.digest, tag.size]),
    tags.map((tag, i) => [tag, digest(i), 1000 + i]),
  );
  const state = await servedState(server.url, gun);
  t.is(state.targets?.version, 21);
  t.is(state.root?.version, 1);
});

test('restart the server and everything is still there', async (t) => {
  const own = await startTestServer();
  t.teardown(() => own.close());
  const gun = 'registry.example.com/flow/restart';
  const publisherHome = await tempHome();
  const publisher = publisherFor(own.url, publisherHome);
  await publisher.init(gun);
  for (const [tag, char] of [['v1', 'a'], ['v2', 'b'], ['v3', 'c']] as const) {
    await publisher.sign(`${gun}:${tag}`, { digest: digestOf(char), size: 10 });
  }
  const pullerHome = await tempHome();
  t.is((await pullerFor(own.url, pullerHome).resolve(`${gun}:v1`)).digest, digestOf('a'));
  const before = await servedState(own.url, gun);
  const onlineKeys = async () =>
    Promise.all(['snapshot', 'timestamp'].map(async (role) => (await getTufFile(own.url, gun, `${role}.key`, { authorization: `Bearer ${ADMIN_TOKEN}` })).json));
  const keysBefore = await onlineKeys();

  await own.restart();
  t.deepEqual(await onlineKeys(), keysBefore);

  // Same versions and bytes; no version was added by the restart.
  await assertUnchanged(t, own.url, gun, before);
  const puller = pullerFor(own.url, pullerHome);
  t.deepEqual((await puller.list(gun)).map((tag) => [tag.tag, tag.digest]), [
    ['v1', digestOf('a')],
    ['v2', digestOf('b')],
    ['v3', digestOf('c')],
  ]);

  // The online keys survived too: the restarted server signs new snapshots and timestamps that
  // the puller's trusted root (listing the keys from before the restart) accepts.
  t.is((await publisherFor(own.url, publisherHome).sign(`${gun}:v4`, { digest: digestOf('d'), size: 10 })).targetsVersion, 5);
  t.is((await puller.resolve(`${gun}:v4`)).digest, digestOf('d'));
  t.is((await servedState(own.url, gun)).timestamp?.version, 5);
});

test('first contact trusts the served root with a notice; a given root file is used instead', async (t) => {
  const gun = 'registry.example.com/flow/pinned';
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  await publisherFor(server.url, home).sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  const rootFile = join(home, 'root-v1.json');
  await writeFile(rootFile, (await getTufFile(server.url, gun, '1.root.json')).text);

  const notices: string[] = [];
  t.is((await pullerFor(server.url, await tempHome(), { warn: (m) => notices.push(m) }).resolve(`${gun}:v1`)).digest, digestOf('a'));
  t.is(notices.length, 1);
  t.regex(notices[0]!, /trusting root v1 of registry\.example\.com\/flow\/pinned on first use/);

  const pinnedNotices: string[] = [];
  const pinned = pullerFor(server.url, await tempHome(), { rootFile, warn: (m) => pinnedNotices.push(m) });
  t.is((await pinned.resolve(`${gun}:v1`)).digest, digestOf('a'));
  t.deepEqual(pinnedNotices, []);

  // The root of another collection does not verify this collection's metadata.
  const otherHome = await tempHome();
  const other = 'registry.example.com/flow/pinned-other';
  await publisherFor(server.url, otherHome).init(other);
  const otherRoot = join(otherHome, 'root-v1.json');
  await writeFile(otherRoot, (await getTufFile(server.url, other, '1.root.json')).text);
  const refused = await t.throwsAsync(pullerFor(server.url, await tempHome(), { rootFile: otherRoot }).resolve(`${gun}:v1`), { instanceOf: SignatureError });
  t.is(refused.code, 'BAD_SIGNATURE');
});
