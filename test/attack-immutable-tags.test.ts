/**
 * Signed immutability, puller side (client/src/audit/seen-tags.ts, shared/src/immutability.ts): a
 * malicious or compromised server serves validly signed metadata (the attacker holds the targets or
 * a delegate key) that moves a release tag the puller has seen, removes it, or drops the policy.
 * Every case is refused with a RepositoryError subclass (exit 28 IMMUTABLE_TAG, 29 POLICY_WEAKENED)
 * and leaves the trusted state unchanged.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ImmutableTagError, PolicyWeakenedError, RepositoryError } from '@tagtrust/client';
import { IMMUTABLE_FIELD, POLICY_CHANGE_FIELD } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

/** The fixture's collection with the policy `v*` signed in, and v1 seen under it by the puller. */
async function immutableFixture(t: Parameters<typeof attackFixture>[0]): Promise<AttackFixture> {
  const fx = await attackFixture(t);
  fx.sim.targets[IMMUTABLE_FIELD] = ['v*'];
  fx.sim.publishTargets();
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'));
  return fx;
}

test('immutable_tag_moved: validly signed targets move a seen release tag', async (t) => {
  const fx = await immutableFixture(t);
  const honest = fx.sim.capture();
  fx.sim.addTarget('v1', digestOf('e'), 100);
  fx.sim.publishTargets();
  const err = await assertRefusedEverywhere(t, fx, {
    errorClass: ImmutableTagError,
    code: 'IMMUTABLE_TAG',
    message: /v1 is immutable under the signed policy v\* and this client saw it signed for sha256:a+, but targets v4 signs it for sha256:e+: do not pull/,
  });
  t.true(err instanceof RepositoryError);
  // A listing is refused too, and a fresh client (which never saw v1) cannot tell: the server and the log must.
  await t.throwsAsync(fx.puller().list(fx.gun), { instanceOf: ImmutableTagError });
  fx.evil.serve(fx.gun, honest);
  await assertRecovers(t, fx, digestOf('a'));
});

test('immutable_tag_removed: validly signed targets drop a seen release tag', async (t) => {
  const fx = await immutableFixture(t);
  fx.sim.removeTarget('v1');
  fx.sim.publishTargets();
  await assertRefusedEverywhere(t, fx, { errorClass: ImmutableTagError, code: 'IMMUTABLE_TAG', message: /no longer signs it/ });
});

test('policy_weakened_without_root: a stolen targets key drops the policy to move the tag', async (t) => {
  const fx = await immutableFixture(t);
  delete fx.sim.targets[IMMUTABLE_FIELD];
  fx.sim.addTarget('v1', digestOf('e'), 100);
  fx.sim.publishTargets();
  await assertRefusedEverywhere(t, fx, {
    errorClass: PolicyWeakenedError,
    code: 'POLICY_WEAKENED',
    message: /targets v4 of .* drops immutable tag pattern\(s\) v\* \(targets v3 had them\) without a root-signed approval/,
  });
});

test('policy_weakened_with_root_approval: root N+1 approves the weaker policy, the tag may move', async (t) => {
  const fx = await immutableFixture(t);
  fx.sim.root[POLICY_CHANGE_FIELD] = { targets: 4, immutable: [] };
  fx.sim.root.version += 1;
  fx.sim.publishRoot();
  delete fx.sim.targets[IMMUTABLE_FIELD];
  fx.sim.addTarget('v1', digestOf('e'), 100);
  fx.sim.publishTargets();
  await assertRecovers(t, fx, digestOf('e'));
});

test('replayed_root_approval: an old approval does not let a later targets version drop the policy again', async (t) => {
  const fx = await immutableFixture(t);
  fx.sim.root[POLICY_CHANGE_FIELD] = { targets: 4, immutable: [] };
  fx.sim.root.version += 1;
  fx.sim.publishRoot();
  delete fx.sim.targets[IMMUTABLE_FIELD];
  fx.sim.publishTargets(); // v4: approved
  await fx.puller().resolve(fx.ref);
  fx.sim.targets[IMMUTABLE_FIELD] = ['v*'];
  fx.sim.publishTargets(); // v5: strengthened again
  await fx.puller().resolve(fx.ref);
  delete fx.sim.targets[IMMUTABLE_FIELD];
  fx.sim.addTarget('v1', digestOf('e'), 100);
  fx.sim.publishTargets(); // v6: the thief replays root's approval for v4
  await assertRefusedEverywhere(t, fx, { errorClass: PolicyWeakenedError, code: 'POLICY_WEAKENED' });
});

/** A release tag `v2.0.0` signed by `targets/release` under the policy `v*`, resolved once by the puller. */
async function releaseTagSeenThroughDelegate(t: ExecutionContext) {
  const fx = await attackFixture(t);
  const { sim } = fx;
  await sim.addDelegation('targets/release', { paths: [`${sim.gun}:v2*`] });
  sim.addTarget('v2.0.0', digestOf('b'), 100, 'targets/release');
  sim.publishTargets('targets/release');
  sim.targets[IMMUTABLE_FIELD] = ['v*'];
  sim.publishTargets();
  const ref = `${sim.gun}:v2.0.0`;
  t.is((await fx.puller().resolve(ref)).digest, digestOf('b'));
  return { fx, sim, ref };
}

test('immutable_tag_moved_by_delegate: a stolen delegate key moves a release tag it signs', async (t) => {
  const { fx, sim, ref } = await releaseTagSeenThroughDelegate(t);
  sim.addTarget('v2.0.0', digestOf('e'), 100, 'targets/release');
  sim.publishTargets('targets/release');
  await assertRefusedEverywhere(t, { ...fx, ref }, { errorClass: ImmutableTagError, code: 'IMMUTABLE_TAG', message: /v2\.0\.0 is immutable/ });
});

test('immutable_tag_role_removed: validly signed targets drop the delegation that signs a seen release tag', async (t) => {
  const { fx, sim, ref } = await releaseTagSeenThroughDelegate(t);
  // The thief with the targets key removes the role (the server refuses this; a malicious one serves it).
  sim.targets.delegations!.roles = sim.targets.delegations!.roles!.filter((role) => role.name !== 'targets/release');
  sim.publishTargets();
  await assertRefusedEverywhere(t, { ...fx, ref }, { errorClass: ImmutableTagError, code: 'IMMUTABLE_TAG', message: /v2\.0\.0 is immutable/ });
});
