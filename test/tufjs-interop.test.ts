/**
 * An independent check of the served metadata: tuf-js's own Updater (its default fetcher, not
 * tagtrust's client) walks root -> timestamp -> snapshot -> targets on the server and reads signed
 * tags' digests, starting from root v1 as its trust anchor.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { generateKeyPair, keyIdOf, signMetadata } from '@tagtrust/keys';
import { buildRoot, expiresAfter, tufBasePath } from '@tagtrust/shared';
import type { Metadata, RootSigned } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, tempHome } from './helpers/client.js';
import { collectionKeys, getTufFile, latestMetadata, publishRaw } from './helpers/metadata.js';

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

/** A tuf-js Updater for a collection, trusting the served root v1. */
async function tufJsUpdater(t: import('ava').ExecutionContext, gun: string): Promise<{ updater: Updater; metadataDir: string }> {
  const metadataDir = await mkdtemp(join(tmpdir(), 'tagtrust-tufjs-'));
  t.teardown(() => rm(metadataDir, { recursive: true, force: true }));
  const root = await getTufFile(server.url, gun, '1.root.json');
  if (root.status !== 200) throw new Error(`no root v1 for ${gun}`);
  await writeFile(join(metadataDir, 'root.json'), root.text);
  return { updater: new Updater({ metadataDir, metadataBaseUrl: `${server.url}${tufBasePath(gun)}` }), metadataDir };
}

test("tuf-js's Updater reads a signed tag's digest from the served metadata", async (t) => {
  const gun = 'registry.example.com/interop/app';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 1234, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  await publisher.sign(`${gun}:v2`, { digest: digestOf('b'), size: 99 });

  const { updater, metadataDir } = await tufJsUpdater(t, gun);
  const info = await updater.getTargetInfo(`${gun}:v1`);
  t.truthy(info);
  t.is(info!.path, `${gun}:v1`);
  t.deepEqual(info!.hashes, { sha256: 'a'.repeat(64) });
  t.is(info!.length, 1234);
  t.deepEqual(info!.custom, { mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  t.is((await updater.getTargetInfo(`${gun}:v2`))!.hashes.sha256, 'b'.repeat(64));
  t.is(await updater.getTargetInfo(`${gun}:v3`), undefined);

  // tuf-js stored exactly the bytes the server serves as the latest versions.
  for (const role of ['timestamp', 'snapshot', 'targets']) {
    t.is(await readFile(join(metadataDir, `${role}.json`), 'utf8'), (await getTufFile(server.url, gun, `${role}.json`)).text, role);
  }
});

test('tuf-js follows a root rotation and sees a moved and an unsigned tag', async (t) => {
  const gun = 'registry.example.com/interop/rotated';
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  await publisher.sign(`${gun}:latest`, { digest: digestOf('a'), size: 10 });

  // Rotate the root key: root v2 signed by the old and the new root key.
  const keys = await collectionKeys(home, gun);
  const current = await latestMetadata<Metadata<RootSigned>>(server.url, gun, 'root');
  const newRootKey = await generateKeyPair();
  const roleKey = (role: 'snapshot' | 'timestamp' | 'targets') => {
    const id = current.signed.roles[role].keyids[0]!;
    return { keys: { [id]: current.signed.keys[id]! }, threshold: 1 };
  };
  const root = buildRoot({
    version: 2,
    expires: expiresAfter(new Date(), 30 * 24 * 3600_000),
    keys: { root: { keys: { [keyIdOf(newRootKey.publicKey)]: newRootKey.publicKey }, threshold: 1 }, targets: roleKey('targets'), snapshot: roleKey('snapshot'), timestamp: roleKey('timestamp') },
  });
  const rotated = await publishRaw(server.url, gun, { root: signMetadata(root, [keys.root, newRootKey]) });
  t.is(rotated.status, 200, rotated.text);

  await publisher.sign(`${gun}:latest`, { digest: digestOf('c'), size: 20 });
  await publisher.unsign(`${gun}:v1`);

  const { updater, metadataDir } = await tufJsUpdater(t, gun);
  t.is((await updater.getTargetInfo(`${gun}:latest`))!.hashes.sha256, 'c'.repeat(64));
  t.is(await updater.getTargetInfo(`${gun}:v1`), undefined);
  const trustedRoot = JSON.parse(await readFile(join(metadataDir, 'root.json'), 'utf8')) as Metadata<RootSigned>;
  t.is(trustedRoot.signed.version, 2);
});
