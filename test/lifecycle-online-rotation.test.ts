import test from 'ava';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignatureError } from '@tagtrust/client';
import type { Puller } from '@tagtrust/client';
import { LevelStore } from '@tagtrust/server';
import { decryptKeyFile, generateMasterKey, parseKeyFile, signMetadata, unsealKeyPair } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { buildTimestamp } from '@tagtrust/shared';
import type { Metadata, RootSigned, TimestampSigned } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { api, createToken } from './helpers/admin.js';
import { startProxy } from './helpers/proxy.js';

const GUN = 'registry.example.com/team/app';

async function latest<T extends Metadata>(server: TestServer, role: string): Promise<T> {
  return (await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/${role}.json`, undefined)).body as T;
}

/** Resolves in a loop until `stop` is set; returns the successes and every failure. */
function resolveContinuously(puller: Puller, reference: string, state: { stop: boolean }) {
  return (async () => {
    let ok = 0;
    const errors: string[] = [];
    while (!state.stop) {
      try {
        await puller.resolve(reference);
        ok += 1;
      } catch (err) {
        errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    return { ok, errors };
  })();
}

test('online keys rotate without downtime: the old key signs until the new root is published, pullers never fail', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  const root1 = await latest<Metadata<RootSigned>>(server, 'root');
  const oldTimestampKey = root1.signed.roles.timestamp.keyids[0]!;
  const oldSnapshotKey = root1.signed.roles.snapshot.keyids[0]!;

  const state = { stop: false };
  t.teardown(() => {
    state.stop = true;
  });
  const pullers = await Promise.all([1, 2, 3].map(async () => pullerFor(server.url, await tempHome())));
  for (const puller of pullers) await puller.resolve(`${GUN}:v1`);
  const loops = pullers.map((puller) => resolveContinuously(puller, `${GUN}:v1`, state));

  // A rotation only starts: the server still signs with the old key, and publishing keeps working.
  const pending = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/timestamp.key`, ADMIN_TOKEN);
  t.is(pending.status, 200);
  const pendingId = pending.body.keyId as string;
  t.not(pendingId, oldTimestampKey);
  t.is((await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/timestamp.key`, ADMIN_TOKEN)).body.keyval.public, root1.signed.keys[oldTimestampKey]!.keyval.public);
  await publisher.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 });
  t.deepEqual((await latest<Metadata>(server, 'timestamp')).signatures.map((s) => s.keyid), [oldTimestampKey]);

  const rotated = await publisher.rotateKey(GUN, 'timestamp');
  const newTimestampKey = rotated.proposal.root.signed.roles.timestamp.keyids[0]!;
  t.not(newTimestampKey, oldTimestampKey);
  t.deepEqual(rotated.published, { root: 2, snapshot: 4, timestamp: 4 });
  // The switching publish is signed by both keys, so clients mid-update under root v1 accept it.
  t.deepEqual((await latest<Metadata>(server, 'timestamp')).signatures.map((s) => s.keyid).sort(), [newTimestampKey, oldTimestampKey].sort());

  const snapshotRotation = await runCli(['key', 'rotate', GUN, 'snapshot'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(snapshotRotation.code, 0, snapshotRotation.stderr);
  t.regex(snapshotRotation.stdout, /^ {2}snapshot: keys [0-9a-f]{8} \(threshold 1\) -> [0-9a-f]{8} \(threshold 1\)\nRotated the snapshot key of registry\.example\.com\/team\/app: published root v3, snapshot v5, timestamp v5\n$/);
  await publisher.sign(`${GUN}:v3`, { digest: digestOf('c'), size: 10 });

  state.stop = true;
  const results = await Promise.all(loops);
  for (const result of results) {
    t.log(`resolved ${result.ok} times during the rotations`);
    t.deepEqual(result.errors, []);
    t.true(result.ok > 0);
  }

  // Afterwards only the new keys sign, and the old ones are gone from the server.
  const root3 = await latest<Metadata<RootSigned>>(server, 'root');
  const newSnapshotKey = root3.signed.roles.snapshot.keyids[0]!;
  t.not(newSnapshotKey, oldSnapshotKey);
  t.deepEqual((await latest<Metadata>(server, 'timestamp')).signatures.map((s) => s.keyid), [newTimestampKey]);
  t.deepEqual((await latest<Metadata>(server, 'snapshot')).signatures.map((s) => s.keyid), [newSnapshotKey]);
  const resolved = await pullers[0]!.resolve(`${GUN}:v3`);
  t.is(resolved.metadata.root.version, 3);
  const fresh = await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`);
  t.is(fresh.digest, digestOf('a'));

  const feed = (await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined)).body.records as any[];
  const keyEvents = feed.filter((r) => r.keys).map((r) => [r.action, r.keys]);
  t.deepEqual(keyEvents[0], ['rotate-key', { pending: { timestamp: pendingId } }]);
  t.deepEqual(keyEvents.at(-1), ['publish', { activated: { snapshot: newSnapshotKey } }]);
  t.true(feed.some((r) => r.keys?.activated?.timestamp === newTimestampKey && r.rootKeyChanges?.timestamp?.[0] === newTimestampKey));
});

test('compromise drill: after rotating a leaked timestamp key, clients refuse metadata it signs', async (t) => {
  const masterKey = generateMasterKey().toString('hex');
  const server = await startTestServer({ masterKey });
  t.teardown(() => server.close());
  const home = await tempHome();
  await publisherFor(server.url, home).init(GUN);
  await publisherFor(server.url, home).sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });

  // The leak: an attacker with the master key and a copy of the database unseals the timestamp key.
  await server.server.close();
  const store = await LevelStore.open(join(server.dataDir, 'db'));
  const sealed = (await store.getServerKey(GUN, 'timestamp'))!;
  await store.close();
  const leaked: KeyPair = unsealKeyPair(sealed, Buffer.from(masterKey, 'hex'), `tagtrust ${GUN} timestamp`);
  await server.restart();

  const pullerHome = await tempHome();
  await pullerFor(server.url, pullerHome).resolve(`${GUN}:v1`);
  const proxy = await startProxy(() => server.url);
  t.teardown(() => proxy.close());
  const forge = async (version: number) => {
    const real = await latest<Metadata<TimestampSigned>>(server, 'timestamp');
    const forged = signMetadata(buildTimestamp(version, '2099-01-01T00:00:00Z', real.signed.meta['snapshot.json']), [leaked]);
    proxy.overrides.set('/_trust/tuf/timestamp.json', JSON.stringify(forged));
  };

  // Before the rotation the leaked key is a real threat: clients accept what it signs.
  await forge(100);
  const victimHome = await tempHome();
  await cp(pullerHome, victimHome, { recursive: true });
  const accepted = await pullerFor(proxy.url, victimHome).resolve(`${GUN}:v1`);
  t.is(accepted.metadata.timestamp.version, 100);
  proxy.overrides.clear();

  const rotate = await runCli(['key', 'rotate', GUN, 'timestamp'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(rotate.code, 0, rotate.stderr);
  t.regex(rotate.stdout, /Rotated the timestamp key of registry\.example\.com\/team\/app: published root v2, snapshot v3, timestamp v3/);

  // After it, a client walks to root v2 and refuses anything signed by the leaked key alone.
  await forge(200);
  const err = await t.throwsAsync(pullerFor(proxy.url, pullerHome).resolve(`${GUN}:v1`));
  t.true(err instanceof SignatureError, String(err));
  t.is((err as SignatureError).code, 'BAD_SIGNATURE');
  // The same client, talking to the real server, is fine: root v2, timestamp by the new key.
  proxy.overrides.clear();
  const ok = await pullerFor(server.url, pullerHome).resolve(`${GUN}:v1`);
  t.is(ok.metadata.root.version, 2);
  t.true(ok.metadata.timestamp.version < 100);

  // The server no longer holds the leaked key (active or pending).
  await server.server.close();
  const after = await LevelStore.open(join(server.dataDir, 'db'));
  t.not((await after.getServerKey(GUN, 'timestamp'))!.keyid, leaked.keyId);
  t.is(await after.getPendingServerKey(GUN, 'timestamp'), undefined);
  await after.close();
  await server.restart();
});

test('bad rotation requests get clear errors and change nothing', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  const feedLength = async () => (await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined)).body.records.length;

  const unknownRole = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/targets.key`, ADMIN_TOKEN);
  t.is(unknownRole.status, 404);
  t.regex(unknownRole.body.error.message, /only snapshot\.key and timestamp\.key are server-held keys/);
  const cliRole = await runCli(['key', 'rotate', GUN, 'bogus'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(cliRole.code, 2);
  t.regex(cliRole.stderr, /^tagtrust: unknown role "bogus": choose root, targets, snapshot or timestamp\n$/);

  const noRoot = await api(server.url, 'POST', '/v2/registry.example.com/team/none/_trust/tuf/timestamp.key', ADMIN_TOKEN);
  t.is(noRoot.status, 404);
  t.regex(noRoot.body.error.message, /has no published root, so there is no timestamp key to rotate/);

  // Rotation needs the admin scope: no token, or a push token, cannot.
  t.is((await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/timestamp.key`, undefined)).status, 401);
  const pushToken = await createToken(server.url, 'ci', ['push:registry.example.com/**']);
  const push = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/timestamp.key`, pushToken);
  t.is(push.status, 403);
  t.is(await feedLength(), 1);

  // A root listing a timestamp key the server does not hold (pending or active) is refused.
  const first = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/timestamp.key`, ADMIN_TOKEN);
  const second = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/timestamp.key`, ADMIN_TOKEN);
  t.not(first.body.keyId, second.body.keyId);
  const root1 = await latest<Metadata<RootSigned>>(server, 'root');
  const signed: RootSigned = structuredClone(root1.signed);
  signed.version = 2;
  delete signed.keys[signed.roles.timestamp.keyids[0]!];
  signed.keys[first.body.keyId] = first.body.key;
  signed.roles.timestamp = { keyids: [first.body.keyId], threshold: 1 };
  const rootKeyId = root1.signed.roles.root.keyids[0]!;
  const rootKey = await decryptKeyFile(parseKeyFile(await readFile(join(home, 'keys', `${rootKeyId}.key`), 'utf8'), 'root key'), 'root-passphrase-for-tests');
  const stale = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { root: signMetadata(signed, [rootKey]) });
  t.is(stale.status, 400);
  t.regex(stale.body.error.message, /root must list the server's timestamp key [0-9a-f]{8} or its pending key [0-9a-f]{8} with threshold 1/);
  t.is((await latest<Metadata<RootSigned>>(server, 'root')).signed.version, 1);
  t.is(await feedLength(), 3, 'only the two rotation requests are recorded');
  t.is((await pullerFor(server.url, await tempHome()).list(GUN)).length, 0);
});
