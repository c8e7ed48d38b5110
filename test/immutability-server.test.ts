/**
 * Signed immutability on a real server (server/src/tag-log/immutability-guard.ts): a publish that
 * moves or removes a tag the signed policy covers is refused (409 IMMUTABLE_TAG) in the top-level
 * targets, a delegated role and a hashed bin; a policy dropped by a stolen targets key is refused
 * (409 POLICY_WEAKENED); a root-approved weakening is accepted; policy changes and refusals are in
 * the audit trail.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { signMetadata } from '@tagtrust/keys';
import { ImmutableTagError, PolicyWeakenedError, readHistory } from '@tagtrust/client';
import { IMMUTABLE_FIELD } from '@tagtrust/shared';
import type { Metadata, TargetsSigned } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { apiError, collectionKeys, latestMetadata, publishRaw } from './helpers/metadata.js';
import { ADMIN_TOKEN } from './helpers/server.js';

const GUN = 'registry.example.com/team/app';
const size = 100;

async function collection(t: ExecutionContext) {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  return { server, home, owner };
}

test('a moved or removed release tag is refused in the top-level targets; other tags still move', async (t) => {
  const { server, home, owner } = await collection(t);
  const set = await owner.setImmutablePolicy(GUN, ['v*.*.*']);
  t.deepEqual(set, { gun: GUN, immutable: ['v*.*.*'], dropped: [], targetsVersion: 2 });
  t.deepEqual(await owner.immutablePolicy(GUN), ['v*.*.*']);
  await owner.sign(`${GUN}:v1.0.0`, { digest: digestOf('a'), size });
  await owner.sign(`${GUN}:latest`, { digest: digestOf('a'), size });

  const moved = await t.throwsAsync(owner.sign(`${GUN}:v1.0.0`, { digest: digestOf('e'), size }));
  t.true(moved instanceof ImmutableTagError, moved?.message);
  t.regex(moved!.message, /v1\.0\.0 is immutable under the signed policy v\*\.\*\.\*: targets v5 moves it from sha256:a+ to sha256:e+; sign a new tag instead/);
  const removed = await t.throwsAsync(owner.unsign(`${GUN}:v1.0.0`));
  t.true(removed instanceof ImmutableTagError);
  await owner.sign(`${GUN}:latest`, { digest: digestOf('b'), size });
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1.0.0`)).digest, digestOf('a'));

  // A stolen targets key: drop the policy and move the tag in one validly signed publish.
  const keys = await collectionKeys(home, GUN);
  const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'targets');
  const { [IMMUTABLE_FIELD]: _policy, ...rest } = current.signed;
  const forged = signMetadata({ ...rest, version: current.signed.version + 1, targets: { ...rest.targets, [`${GUN}:v1.0.0`]: { length: size, hashes: { sha256: 'e'.repeat(64) } } } }, [keys.targets]);
  const result = await publishRaw(server.url, GUN, { targets: forged });
  t.is(result.status, 409);
  t.is(apiError(result).code, 'POLICY_WEAKENED');

  // The CLI: exit 28 and one line.
  const cli = await runCli(['sign', `${GUN}:v1.0.0`, '--digest', digestOf('f'), '--size', '100'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home, TAGTRUST_TOKEN: ADMIN_TOKEN, TAGTRUST_TARGETS_PASSPHRASE: 'targets-passphrase-for-tests' });
  t.is(cli.code, 28, cli.stderr);
  t.is(cli.stderr.trim().split('\n').length, 1);

  const history = await readHistory(GUN, { server: server.url, home, token: ADMIN_TOKEN });
  t.deepEqual(history.find((r) => r.policy)?.policy, { from: [], to: ['v*.*.*'] });
  const refusals = history.filter((r) => r.action === 'refused');
  t.deepEqual(refusals.map((r) => r.refusal?.code), ['IMMUTABLE_TAG', 'IMMUTABLE_TAG', 'POLICY_WEAKENED', 'IMMUTABLE_TAG']);
});

test('weakening the policy needs the root keys: root N+1 approves it, then the tag may move', async (t) => {
  const { server, owner } = await collection(t);
  await owner.setImmutablePolicy(GUN, ['v*', 'release-*']);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size });
  const result = await owner.setImmutablePolicy(GUN, ['release-*']);
  t.deepEqual(result, { gun: GUN, immutable: ['release-*'], dropped: ['v*'], targetsVersion: 4, rootVersion: 2 });
  await owner.sign(`${GUN}:v1`, { digest: digestOf('b'), size });
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:v1`)).digest, digestOf('b'));
});

test('delegated roles and hashed bins: a delegate cannot move, remove or shadow an immutable tag', async (t) => {
  const { server, owner } = await collection(t);
  const release = publisherFor(server.url, await tempHome());
  const key = await release.generateKey('release');
  await owner.addDelegation(GUN, 'targets/release', { keys: [key.publicKey], threshold: 1, paths: [`${GUN}:v*`] });
  await owner.setImmutablePolicy(GUN, ['v*']);
  await release.sign(`${GUN}:v1`, { digest: digestOf('a'), size }, { role: 'targets/release' });
  const moved = await t.throwsAsync(release.sign(`${GUN}:v1`, { digest: digestOf('e'), size }, { role: 'targets/release' }));
  t.true(moved instanceof ImmutableTagError, moved?.message);
  t.regex(moved!.message, /targets\/release v2 moves it/);
  t.true((await t.throwsAsync(release.unsign(`${GUN}:v1`, { role: 'targets/release' }))) instanceof ImmutableTagError);
  // The owner's targets come first in TUF order: signing v1 there for another digest would shadow it.
  const shadow = await t.throwsAsync(owner.sign(`${GUN}:v1`, { digest: digestOf('e'), size }));
  t.true(shadow instanceof ImmutableTagError);
  t.regex(shadow!.message, /signs it for sha256:e+, but it is signed for sha256:a+/);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size });
});

test('hashed bins: a tag in a bin cannot move; moving tags into bins is not a move', async (t) => {
  const { owner } = await collection(t);
  await owner.setImmutablePolicy(GUN, ['v*']);
  for (const tag of ['v1', 'v2', 'v3']) await owner.sign(`${GUN}:${tag}`, { digest: digestOf('a'), size });
  await owner.enableBins(GUN, { bins: 16 });
  t.deepEqual(await owner.immutablePolicy(GUN), ['v*'], 'moving into bins keeps the policy');
  await owner.sign(`${GUN}:v4`, { digest: digestOf('a'), size });
  const moved = await t.throwsAsync(owner.sign(`${GUN}:v2`, { digest: digestOf('e'), size }));
  t.true(moved instanceof ImmutableTagError, moved?.message);
  t.regex(moved!.message, /bins-[0-9a-f] v\d+ moves it/);
});
