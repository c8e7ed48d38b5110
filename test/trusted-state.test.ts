/**
 * The trusted state of a collection (TAGTRUST_HOME/trust/<gun>/) changes only when a whole update
 * succeeds: each update verifies on a private copy, and commits it with atomic renames at the end.
 */
import test from 'ava';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NotSignedError, SubstitutionError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { assertRefused, leftovers, trustState, trustedVersions } from './harness/attack.js';

test('trusted_state_committed_only_on_success', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 2, snapshot: 2, targets: 2 });

  // New root, timestamp and snapshot verify and are written to the private copy; then targets fail.
  await sim.rotateKeys('timestamp');
  sim.root.version += 1;
  sim.publishRoot();
  sim.targets.targets['registry.example.com/other/app:v1'] = { length: 1, hashes: { sha256: 'e'.repeat(64) } };
  sim.publishTargets();
  const before = await trustState(home, gun);
  await assertRefused(t, fx.puller().resolve(fx.ref), SubstitutionError, 'SUBSTITUTION');
  t.deepEqual(await trustState(home, gun), before, 'nothing of the failed update was committed');
  t.deepEqual(await leftovers(home), []);
  t.deepEqual((await readdir(join(home, 'trust'))).sort(), [encodeURIComponent(gun)]);

  // An error of the caller after a successful verification (an unsigned tag) commits nothing either.
  delete sim.targets.targets['registry.example.com/other/app:v1'];
  sim.publishTargets();
  await assertRefused(t, fx.puller().resolve(`${gun}:nope`), NotSignedError, 'NOT_SIGNED', /registry\.example\.com\/team\/app:nope is not signed/);
  t.deepEqual(await trustState(home, gun), before);

  // A successful update commits every role at once.
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'));
  t.deepEqual(await trustedVersions(home, gun), { root: 2, timestamp: 4, snapshot: 4, targets: 4 });
});

test('concurrent_updates_never_regress_the_trusted_state', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, home, gun } = fx;
  // Client A starts an update to timestamp v3 and is held on its targets download...
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  evil.override(gun, `${sim.targets.version}.targets.json`, { after: held, bytes: sim.fetch(`${sim.targets.version}.targets.json`)! });
  const slow = fx.puller().resolve(fx.ref);
  while (!evil.requested(gun).includes(`${sim.targets.version}.targets.json`)) await new Promise((resolve) => setTimeout(resolve, 10));
  // ...while client B, in the same home, updates to timestamp v4 and commits.
  sim.addTarget('v1', digestOf('c'), 100);
  sim.publishTargets();
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('c'));
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 4, snapshot: 4, targets: 4 });
  // A finishes last: its older state must not replace B's newer one.
  release();
  t.is((await slow).digest, digestOf('b'));
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 4, snapshot: 4, targets: 4 });
  evil.clearOverrides();
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('c'));
});
