/**
 * Immutable tags stay resolvable (server/src/tag-log/resolution-guard.ts), on a real server: every
 * publish after which a tag the signed policy covers no longer resolves, through the TUF delegation
 * walk, to the digest it had is refused with 409 IMMUTABLE_TAG naming the tag and the role that
 * signs it, whatever the way: the delegation removed, its paths narrowed, its keys replaced without
 * re-signing, a terminating delegation put in front of it, hashed bins re-laid out without it.
 * Delegation changes that keep every release tag where it was are accepted; refusals are audited.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { signMetadata } from '@tagtrust/keys';
import { ImmutableTagError, readHistory } from '@tagtrust/client';
import type { DelegatedRoleInfo, Metadata, TargetsSigned } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { apiError, collectionKeys, latestMetadata, publishRaw } from './helpers/metadata.js';

const GUN = 'registry.example.com/team/app';
const size = 100;
const REFUSED_BY_ROLE = (role: string, why: string) =>
  new RegExp(`${GUN.replace(/\./g, '\\.')}:v1 is immutable under the signed policy v\\*: it is signed by ${role.replace(/\//g, '\\/')} for sha256:a+, but after this publish ${why}`);

/** A collection with policy `v*`, v1 signed by the delegate role targets/release and dev-1 by targets/dev. */
async function delegatedRelease(t: ExecutionContext) {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  const release = publisherFor(server.url, await tempHome());
  const releaseKey = await release.generateKey('release');
  const dev = publisherFor(server.url, await tempHome());
  const devKey = await dev.generateKey('dev');
  await owner.addDelegation(GUN, 'targets/release', { keys: [releaseKey.publicKey], threshold: 1, paths: [`${GUN}:v*`] });
  await owner.addDelegation(GUN, 'targets/dev', { keys: [devKey.publicKey], threshold: 1, paths: [`${GUN}:dev-*`] });
  await owner.setImmutablePolicy(GUN, ['v*']);
  await release.sign(`${GUN}:v1`, { digest: digestOf('a'), size }, { role: 'targets/release' });
  await dev.sign(`${GUN}:dev-1`, { digest: digestOf('d'), size }, { role: 'targets/dev' });
  return { server, home, owner, releaseKey };
}

/** Publishes the current targets changed by `change`, signed with the stolen targets key. */
async function forgeTargets(url: string, home: string, change: (signed: TargetsSigned) => TargetsSigned) {
  const keys = await collectionKeys(home, GUN);
  const current = await latestMetadata<Metadata<TargetsSigned>>(url, GUN, 'targets');
  const signed = change(structuredClone(current.signed));
  return publishRaw(url, GUN, { targets: signMetadata({ ...signed, version: current.signed.version + 1 }, [keys.targets]) });
}

test('removing the delegation that signs an immutable tag is refused, through the client and forged; other roles can go', async (t) => {
  const { server, home, owner } = await delegatedRelease(t);
  const removed = await t.throwsAsync(owner.removeDelegation(GUN, 'targets/release'));
  t.true(removed instanceof ImmutableTagError, removed?.message);
  t.regex(removed!.message, REFUSED_BY_ROLE('targets/release', 'targets/release is no longer delegated'));

  const forged = await forgeTargets(server.url, home, (signed) => ({
    ...signed,
    delegations: { ...signed.delegations!, roles: signed.delegations!.roles!.filter((r) => r.name !== 'targets/release') },
  }));
  t.is(forged.status, 409);
  t.is(apiError(forged).code, 'IMMUTABLE_TAG');
  t.regex(apiError(forged).message, /v1 is immutable .* targets\/release is no longer delegated/);

  await owner.removeDelegation(GUN, 'targets/dev');
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`)).digest, digestOf('a'));
  const refusals = (await readHistory(GUN, { server: server.url, home, token: ADMIN_TOKEN })).filter((r) => r.action === 'refused');
  t.deepEqual(refusals.map((r) => r.refusal?.code), ['IMMUTABLE_TAG', 'IMMUTABLE_TAG']);
  t.regex(refusals[0]!.refusal!.message, /v1 is immutable .* signed by targets\/release/);
});

test('narrowing the paths, replacing the keys without re-signing, or a terminating role in front: refused', async (t) => {
  const { server, home, owner, releaseKey } = await delegatedRelease(t);
  const narrowed = await t.throwsAsync(owner.addDelegation(GUN, 'targets/release', { keys: [releaseKey.publicKey], threshold: 1, paths: [`${GUN}:v2*`] }, { replace: true }));
  t.true(narrowed instanceof ImmutableTagError, narrowed?.message);
  t.regex(narrowed!.message, REFUSED_BY_ROLE('targets/release', `the delegation of targets/release no longer covers it \\(now ${GUN.replace(/\./g, '\\.')}:v2\\*\\)`));

  const other = await publisherFor(server.url, await tempHome()).generateKey('other');
  const rekeyed = await t.throwsAsync(owner.addDelegation(GUN, 'targets/release', { keys: [other.publicKey], threshold: 1, paths: [`${GUN}:v*`] }, { replace: true }));
  t.true(rekeyed instanceof ImmutableTagError, rekeyed?.message);
  t.regex(rekeyed!.message, /targets\/release no longer verifies under the keys its delegator lists for it/);

  const inFront = await forgeTargets(server.url, home, (signed) => {
    const dev = signed.delegations!.roles!.find((r) => r.name === 'targets/dev')!;
    const front: DelegatedRoleInfo = { ...dev, name: 'targets/front', paths: [`${GUN}:v*`], terminating: true };
    return { ...signed, delegations: { ...signed.delegations!, roles: [front, ...signed.delegations!.roles!] } };
  });
  t.is(inFront.status, 409, apiError(inFront).message);
  t.regex(apiError(inFront).message, /the lookup no longer reaches targets\/release/);

  // Widening the paths and adding a role after it keep v1 where it is.
  await owner.addDelegation(GUN, 'targets/release', { keys: [releaseKey.publicKey], threshold: 1, paths: [`${GUN}:release-*`] });
  await owner.addDelegation(GUN, 'targets/later', { keys: [other.publicKey], threshold: 1, paths: [`${GUN}:v*`] });
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`)).digest, digestOf('a'));
});

test('hashed bins: a re-bin through the client is accepted; a layout that loses a release tag is refused', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  await owner.setImmutablePolicy(GUN, ['v*']);
  for (const tag of ['v1', 'v2', 'v3', 'dev']) await owner.sign(`${GUN}:${tag}`, { digest: digestOf('a'), size });
  await owner.enableBins(GUN, { bins: 16 });
  await owner.enableBins(GUN, { bins: 4 });
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v2`)).digest, digestOf('a'));

  const relaid = await forgeTargets(server.url, home, (signed) => ({
    ...signed,
    delegations: { ...signed.delegations!, succinct_roles: { ...signed.delegations!.succinct_roles!, name_prefix: 'other' } },
  }));
  t.is(relaid.status, 409, apiError(relaid).message);
  t.is(apiError(relaid).code, 'IMMUTABLE_TAG');
  t.regex(apiError(relaid).message, /:v\d is immutable under the signed policy v\*: it is signed by bins-[0-9a-f] for sha256:a+, but after this publish bins-[0-9a-f] is no longer delegated/);
});
