/**
 * Attack 11, online-key compromise: the attacker has the server's snapshot and timestamp keys (stolen
 * from a real tagtrust-server's database with its master key) but no publisher key. It can re-sign
 * snapshot and timestamp at will, but cannot create or move a tag mapping.
 */
import test from 'ava';
import { signMetadata } from '@tagtrust/keys';
import { RollbackError, SignatureError } from '@tagtrust/client';
import { buildSnapshot, buildTargets, buildTimestamp, describeFile, expiresAfter } from '@tagtrust/shared';
import type { Metadata, SnapshotSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import { MaliciousServer } from './harness/malicious-server.js';
import { captureCollection, parseFile, stealOnlineKeys } from './harness/real-collection.js';
import { EXIT, assertOnlyKept, assertRefused, trustState } from './harness/attack.js';

const GUN = 'registry.example.com/team/app';
const REF = `${GUN}:v1`;
const DAY = 86400_000;

test('online_key_compromise_cannot_create_or_move_a_tag', async (t) => {
  const server = await startTestServer();
  const evil = await MaliciousServer.start();
  t.teardown(async () => {
    await evil.close();
    await server.close();
  });
  const publisherHome = await tempHome();
  // A new Publisher per use: stealing the keys restarts the server on a new port.
  const publisher = () => publisherFor(server.url, publisherHome);
  await publisher().init(GUN);
  await publisher().sign(REF, { digest: digestOf('a'), size: 10 });
  const home = await tempHome();
  t.is((await pullerFor(server.url, home).resolve(REF)).digest, digestOf('a'));
  const honest = await captureCollection(server.url, GUN);
  const keys = await stealOnlineKeys(server, GUN);

  const timestamp = parseFile<Metadata<TimestampSigned>>(honest, 'timestamp.json').signed;
  const snapshot = parseFile<Metadata<SnapshotSigned>>(honest, `${timestamp.meta['snapshot.json'].version}.snapshot.json`).signed;
  const targetsVersion = snapshot.meta['targets.json']!.version;
  const forged = new Map(honest);
  // Each forgery is newer than the last: the client keeps each forged timestamp and snapshot (they verify).
  let forgeries = 0;
  /** Publishes attacker targets (signed by `signers`) behind a snapshot and timestamp signed with the stolen keys. */
  const serveForgery = (targets: Metadata<TargetsSigned>) => {
    forgeries += 1;
    const targetsBytes = Buffer.from(JSON.stringify(targets));
    forged.set(`${targets.signed.version}.targets.json`, targetsBytes);
    const newSnapshot = signMetadata(
      buildSnapshot(snapshot.version + forgeries, expiresAfter(new Date(), DAY), { 'targets.json': describeFile(targetsBytes, targets.signed.version) }),
      [keys.snapshot],
    );
    const snapshotBytes = Buffer.from(JSON.stringify(newSnapshot));
    forged.set(`${snapshot.version + forgeries}.snapshot.json`, snapshotBytes);
    const newTimestamp = signMetadata(buildTimestamp(timestamp.version + forgeries, expiresAfter(new Date(), DAY), describeFile(snapshotBytes, snapshot.version + forgeries), new Date()), [keys.timestamp]);
    forged.set('timestamp.json', Buffer.from(JSON.stringify(newTimestamp)));
    evil.serve(GUN, forged);
  };
  const before = await trustState(home, GUN);

  for (const [what, change] of [
    ['move v1', { [REF]: { length: 10, hashes: { sha256: 'e'.repeat(64) } } }],
    ['create v2', { [REF]: { length: 10, hashes: { sha256: 'a'.repeat(64) } }, [`${GUN}:v2`]: { length: 10, hashes: { sha256: 'e'.repeat(64) } } }],
  ] as const) {
    for (const signer of [keys.snapshot, keys.timestamp]) {
      serveForgery(signMetadata(buildTargets(targetsVersion + 1 + forgeries, expiresAfter(new Date(), DAY), change), [signer]));
      const ref = what === 'create v2' ? `${GUN}:v2` : REF;
      // A client that trusts the collection, and one that has never seen it, both refuse.
      await assertRefused(t, pullerFor(evil.url, home).resolve(ref), SignatureError, 'BAD_SIGNATURE', /^targets v\d+ of .* is not signed by enough of the keys root v1 trusts for it \(0\/1\)/);
      await assertRefused(t, pullerFor(evil.url, await tempHome()).resolve(ref), SignatureError, 'BAD_SIGNATURE');
      const cli = await runCli(['resolve', ref], { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: home });
      t.is(cli.code, EXIT.BAD_SIGNATURE, `${what}: ${cli.stderr}`);
      // The forged timestamp and snapshot verify (the thief holds their keys) and are kept; the targets are not.
      assertOnlyKept(t, before, await trustState(home, GUN), ['timestamp.json', 'snapshot.json']);
    }
  }

  // The forgeries' timestamp and snapshot verified, so this client keeps them as its rollback floor
  // (client workflow 5.4.5, 5.5.7): the honest server's older timestamp is refused until the owner
  // rotates the stolen keys; then the client drops them (fast-forward attack recovery, spec 5.3.11).
  await assertRefused(t, pullerFor(server.url, home).resolve(REF), RollbackError, 'ROLLBACK', /offers timestamp v\d+ of .*, older than v\d+/);
  await publisher().rotateKey(GUN, 'timestamp');
  await publisher().rotateKey(GUN, 'snapshot');
  await publisher().sign(REF, { digest: digestOf('b'), size: 10 });
  t.is((await pullerFor(server.url, home).resolve(REF)).digest, digestOf('b'));

  // What the (new) stolen keys can do: point a new snapshot at an older, genuine targets version. A
  // client that has seen the newer targets refuses it; a fresh client cannot tell (docs/security-model.md).
  const stolen = await stealOnlineKeys(server, GUN);
  const current = await captureCollection(server.url, GUN);
  const currentTimestamp = parseFile<Metadata<TimestampSigned>>(current, 'timestamp.json').signed;
  const trusted = await trustState(home, GUN);
  // Snapshot and timestamp newer than the honest ones, listing the genuine older targets (v1 -> a).
  const sn = buildSnapshot(currentTimestamp.meta['snapshot.json'].version + 10, expiresAfter(new Date(), DAY), {
    'targets.json': describeFile(honest.get(`${targetsVersion}.targets.json`)!, targetsVersion),
  });
  const snBytes = Buffer.from(JSON.stringify(signMetadata(sn, [stolen.snapshot])));
  const replay = new Map(current);
  replay.set(`${targetsVersion}.targets.json`, honest.get(`${targetsVersion}.targets.json`)!);
  replay.set(`${sn.version}.snapshot.json`, snBytes);
  const ts = buildTimestamp(currentTimestamp.version + 10, expiresAfter(new Date(), DAY), describeFile(snBytes, sn.version), new Date());
  replay.set('timestamp.json', Buffer.from(JSON.stringify(signMetadata(ts, [stolen.timestamp]))));
  evil.serve(GUN, replay);
  await assertRefused(t, pullerFor(evil.url, home).resolve(REF), RollbackError, 'ROLLBACK', /offers targets \(listed by snapshot v\d+\) v\d+ of .*, older than v\d+/);
  assertOnlyKept(t, trusted, await trustState(home, GUN), ['timestamp.json']);
  t.is((await pullerFor(evil.url, await tempHome()).resolve(REF)).digest, digestOf('a'), 'the documented window for clients that never saw the newer targets');
  // Honest metadata again, once the stolen timestamp key is rotated out.
  await publisher().rotateKey(GUN, 'timestamp');
  t.is((await pullerFor(server.url, home).resolve(REF)).digest, digestOf('b'));
});
