/**
 * Attack 6, cross-repository substitution: collection Y's metadata served for collection X; a target
 * named `Y:1.5` in X's metadata when asked for `X:1.5`; and the server refusing to store such targets.
 */
import test from 'ava';
import { SubstitutionError, UntrustedRootError } from '@tagtrust/client';
import { signMetadata } from '@tagtrust/keys';
import { buildTargets, expiresAfter } from '@tagtrust/shared';
import { digestOf, publisherFor, tempHome } from './helpers/client.js';
import { apiError, assertUnchanged, collectionKeys, publishRaw, servedState } from './helpers/metadata.js';
import { startTestServer } from './helpers/server.js';
import { attackFixture } from './harness/fixture.js';
import { RepositorySimulator } from './harness/repository-simulator.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

const Y = 'registry.example.com/other/app';

test('cross_repository_metadata_substitution: a client that trusts X gets Y\'s metadata', async (t) => {
  const fx = await attackFixture(t);
  const y = await RepositorySimulator.create({ gun: Y });
  y.addTarget('v1', digestOf('e'), 100);
  y.publishTargets();
  // Y's files carry the same names and versions (root v1, timestamp v2...), bumped past X's.
  y.updateTimestamp();
  fx.evil.serve(fx.gun, (file) => y.fetch(file));
  // The served root chain is not the trusted one: refused as another root, with how a real re-creation is handled.
  await assertRefusedEverywhere(t, fx, {
    errorClass: UntrustedRootError,
    code: 'UNTRUSTED_ROOT',
    message: /^the server's root of registry\.example\.com\/team\/app \(v1, root keys [0-9a-f]{8}\) is not the root this home trusts \(v1, root keys [0-9a-f]{8}\): the collection was deleted and re-created, or the server impersonates it; refusing it/,
  });
  fx.evil.serve(fx.gun, (file) => fx.sim.fetch(file));
  await assertRecovers(t, fx, digestOf('a'));
});

test('cross_repository_metadata_substitution_on_first_use: a new client gets Y\'s complete metadata for X', async (t) => {
  const fx = await attackFixture(t, { trusted: false });
  const y = await RepositorySimulator.create({ gun: Y });
  y.addTarget('v1', digestOf('e'), 100);
  y.publishTargets();
  fx.evil.serve(fx.gun, (file) => y.fetch(file));
  await assertRefusedEverywhere(t, fx, {
    errorClass: SubstitutionError,
    code: 'SUBSTITUTION',
    message: /^targets v2 served for registry\.example\.com\/team\/app signs "registry\.example\.com\/other\/app:v1", which is not a tag of registry\.example\.com\/team\/app/,
  });
  t.deepEqual(await fx.puller().list(fx.gun).catch((err: Error) => err.constructor.name), 'SubstitutionError');
  fx.evil.serve(fx.gun, (file) => fx.sim.fetch(file));
  await assertRecovers(t, fx, digestOf('a'));
});

test('target_named_for_another_collection: X\'s targets signing Y:1.5 do not answer X:1.5', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  // Signed by X's own targets key (a publisher error or a stolen key used across collections).
  sim.targets.targets[`${Y}:1.5`] = { length: 100, hashes: { sha256: 'e'.repeat(64) } };
  sim.publishTargets();
  const ref = `${fx.gun}:1.5`;
  await assertRefusedEverywhere(t, { ...fx, ref }, { kept: ['timestamp.json', 'snapshot.json'], errorClass: SubstitutionError, code: 'SUBSTITUTION', message: /signs "registry\.example\.com\/other\/app:1\.5", which is not a tag of registry\.example\.com\/team\/app/ });
  delete sim.targets.targets[`${Y}:1.5`];
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
});

test('server_refuses_targets_of_another_collection', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const X = 'registry.example.com/team/app';
  const home = await tempHome();
  await publisherFor(server.url, home).init(X);
  const { targets: targetsKey } = await collectionKeys(home, X);
  const before = await servedState(server.url, X);
  for (const name of [`${Y}:1.5`, `${X}/sub:1.5`, `${X}x:1.5`, `${X}:1.5@sha256:${'e'.repeat(64)}`]) {
    const targets = signMetadata(
      buildTargets(2, expiresAfter(new Date(), 3600_000), { [name]: { length: 10, hashes: { sha256: 'e'.repeat(64) } } }),
      [targetsKey],
    );
    const result = await publishRaw(server.url, X, { targets });
    t.is(result.status, 400, name);
    t.is(apiError(result).code, 'SUBSTITUTION', name);
    t.regex(apiError(result).message, /is not a tag of collection registry\.example\.com\/team\/app/);
  }
  await assertUnchanged(t, server.url, X, before);
});
