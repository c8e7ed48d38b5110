/**
 * A "diamond" delegation: targets/a (a-*) and targets/b (b-*) both delegate to one role,
 * targets/a/release, each with its own key; the role is signed only with targets/a's key and signs
 * a-1 and b-1. Through targets/a it is valid; through targets/b it is not, so b-1 is not signed.
 * `list` must agree with `resolve` (and python-tuf and tuf-js): it verifies the role against the
 * delegator each lookup reaches it through, not once against the delegator its name implies.
 * (tuf-conformance `test_cached_role_is_verified_against_current_delegator`; the in-process case is
 * test/conformance-client.test.ts.)
 */
import test from 'ava';
import { NotSignedError, SignatureError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { EXIT, assertRefused, assertRefusedEverywhere } from './harness/attack.js';

const RELEASE = 'targets/a/release';

async function diamondFixture(t: import('ava').ExecutionContext): Promise<AttackFixture> {
  const fx = await attackFixture(t);
  const { sim, gun } = fx;
  await sim.addDelegation('targets/a', { paths: [`${gun}:a-*`] });
  await sim.addDelegation('targets/b', { paths: [`${gun}:b-*`] });
  const keyOfA = await sim.addDelegation(RELEASE, { paths: [`${gun}:a-*`] }, 'targets/a');
  await sim.addDelegation(RELEASE, { paths: [`${gun}:b-*`] }, 'targets/b');
  // Signed only with the key targets/a lists for it.
  sim.signers.set(RELEASE, [keyOfA]);
  sim.addTarget('a-1', digestOf('b'), 100, RELEASE);
  sim.addTarget('b-1', digestOf('e'), 100, RELEASE);
  for (const role of [RELEASE, 'targets/a', 'targets/b', 'targets']) sim.publishTargets(role);
  return fx;
}

test('diamond_delegation: resolve takes a-1 through targets/a and refuses b-1 through targets/b', async (t) => {
  const fx = await diamondFixture(t);
  t.is((await fx.puller().resolve(`${fx.gun}:a-1`)).digest, digestOf('b'));
  await assertRefusedEverywhere(t, { ...fx, ref: `${fx.gun}:b-1` }, { kept: ['targets%2Fb.json'], errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /targets\/a\/release/ });
});

test('diamond_delegation_list: list does not print b-1, which resolve refuses', async (t) => {
  const fx = await diamondFixture(t);
  const warnings: string[] = [];
  const tags = await fx.puller({ warn: (message) => warnings.push(message) }).list(fx.gun);
  t.deepEqual(
    tags.map((tag) => [tag.tag, tag.digest, tag.signedBy]),
    [
      ['a-1', digestOf('b'), RELEASE],
      ['v1', digestOf('a'), 'targets'],
    ],
  );
  t.true(warnings.some((line) => /^targets\/a\/release of .* fails verification/.test(line)), warnings.join('\n'));
  const cli = await fx.cli(['list', fx.gun, '--json']);
  t.is(cli.code, 0, cli.stderr);
  t.false(cli.stdout.includes(digestOf('e')), 'the digest resolve refuses is not printed');
  // And resolve, in the same home afterwards, still refuses it.
  await assertRefused(t, fx.puller().resolve(`${fx.gun}:b-1`), SignatureError, 'BAD_SIGNATURE');
  t.is((await fx.cli(['resolve', `${fx.gun}:b-1`])).code, EXIT.BAD_SIGNATURE);
  await assertRefused(t, fx.puller().resolve(`${fx.gun}:c-1`), NotSignedError, 'NOT_SIGNED');
});
