/**
 * Metadata from other TUF implementations: a signature entry that cannot verify (an empty `sig`, or a
 * plausible but wrong one) does not make a file invalid when the other signatures meet the threshold
 * (tuf-conformance `test_invalid_sig_in_valid_metadata`), and target `custom` fields may hold objects.
 * Entries that would count in tuf-js under another byte form (upper-case hex, garbage after the hex)
 * stay refused: test/attack-malformed-metadata.test.ts.
 */
import test from 'ava';
import { signMetadata } from '@tagtrust/keys';
import { SignatureError } from '@tagtrust/client';
import type { TargetsSigned } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRefused } from './harness/attack.js';

/** Timestamp v+1 signed by both timestamp keys, then `edit` applied to its second signature. */
function serveTimestamp(fx: AttackFixture, edit: (sig: string) => string): void {
  fx.sim.timestamp.version += 1;
  const metadata = signMetadata(structuredClone(fx.sim.timestamp), fx.sim.signers.get('timestamp')!);
  metadata.signatures[1]!.sig = edit(metadata.signatures[1]!.sig);
  fx.evil.override(fx.gun, 'timestamp.json', JSON.stringify(metadata));
}

test('invalid_sig_in_valid_metadata: a wrong or empty second signature, threshold met by the first', async (t) => {
  const fx = await attackFixture(t);
  await fx.sim.rotateKeys('timestamp', 2, 1);
  fx.sim.root.version += 1;
  fx.sim.publishRoot();
  fx.sim.updateTimestamp();
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'));

  serveTimestamp(fx, (sig) => sig.replace(/^./, (c) => (c === '0' ? '1' : '0')));
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'), 'plausible but wrong');
  serveTimestamp(fx, () => '');
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'), 'empty');
  serveTimestamp(fx, () => 'not a signature');
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'), 'not hex');
  t.is((await fx.cli(['resolve', fx.ref])).code, 0);

  // With a threshold of 2 the unusable entry does not count: refused as a signature failure, not as malformed.
  await fx.sim.rotateKeys('timestamp', 2, 2);
  fx.sim.root.version += 1;
  fx.sim.publishRoot();
  serveTimestamp(fx, () => '');
  await assertRefused(t, fx.puller().resolve(fx.ref), SignatureError, 'BAD_SIGNATURE', /^timestamp v\d+ of .* \(1\/2\)/);
});

test('custom_object_in_target: other repositories put objects in custom; tagtrust reads them', async (t) => {
  const fx = await attackFixture(t);
  const targets = fx.sim.targets as TargetsSigned;
  targets.targets[fx.ref]!.custom = { mediaType: 'application/vnd.oci.image.manifest.v1+json', annotations: { team: 'a', tier: 3 }, list: ['x', 1] };
  fx.sim.publishTargets();
  const resolution = await fx.puller().resolve(fx.ref);
  t.is(resolution.digest, digestOf('a'));
  t.is(resolution.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  t.deepEqual((await fx.puller().list(fx.gun)).map((tag) => tag.tag), ['v1']);
});
