/**
 * Attack 1, arbitrary mapping: targets that map a tag to the attacker's digest, signed by a key the
 * root does not list, or by fewer keys than the targets threshold.
 */
import test from 'ava';
import { generateKeyPair } from '@tagtrust/keys';
import { SignatureError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

test('new_targets_unsigned: targets signed by a key the root does not list', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const attacker = await generateKeyPair('ed25519');
  sim.addTarget('v1', digestOf('e'), 100);
  sim.targets.version += 1;
  sim.commit('targets', [attacker]);
  sim.updateSnapshot();
  const err = await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /^targets v3 of .* is not signed by enough of the keys root v1 trusts for it \(0\/1\)/ });
  t.regex(err.message, /refusing it/);
  // The publisher signs again. (Serving the older honest set would now be a rollback: timestamp v3 was kept.)
  sim.addTarget('v1', digestOf('a'), 100);
  sim.commit('targets');
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_targets_below_threshold: targets signed by one of the two keys a threshold of 2 needs', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const [first, second] = await sim.rotateKeys('targets', 2, 2);
  sim.root.version += 1;
  sim.publishRoot();
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
  // The attacker stole one of the two targets keys.
  sim.addTarget('v1', digestOf('e'), 100);
  sim.targets.version += 1;
  sim.commit('targets', [first!]);
  sim.updateSnapshot();
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /targets v4 of .* \(1\/2\)/ });
  // The publisher signs with both keys again: honest.
  sim.addTarget('v1', digestOf('b'), 100);
  sim.commit('targets', [first!, second!]);
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('b'));
});
