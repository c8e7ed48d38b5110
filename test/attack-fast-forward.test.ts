/**
 * Attack 9, fast-forward: a timestamp (or snapshot) with an absurd version signed by a stolen online
 * key. Clients that accepted it refuse honest metadata as a rollback until the key is rotated in a new
 * root; then the old, fast-forwarded metadata no longer verifies and is discarded (spec 5.3.11).
 */
import test from 'ava';
import { RollbackError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere, trustedVersions } from './harness/attack.js';

test('new_timestamp_fast_forward_recovery', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  // The attacker signs timestamp v99999 with the stolen timestamp key; clients accept it.
  const honestVersion = sim.timestamp.version;
  sim.timestamp.version = 99999;
  sim.commit('timestamp');
  await assertRecovers(t, fx, digestOf('a'));
  t.is((await trustedVersions(home, gun)).timestamp, 99999);
  // The honest server keeps counting from where it was: clients now see a rollback.
  sim.timestamp.version = honestVersion;
  sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, { errorClass: RollbackError, code: 'ROLLBACK', message: /offers timestamp v\d+ of .*, older than v99999/ });
  // Recovery: the publisher rotates the timestamp key in root v2.
  await sim.rotateKeys('timestamp');
  sim.root.version += 1;
  sim.publishRoot();
  sim.updateTimestamp();
  await assertRecovers(t, fx, digestOf('a'));
  t.deepEqual(await trustedVersions(home, gun), { root: 2, timestamp: honestVersion + 2, snapshot: 2, targets: 2 });
});

test('new_snapshot_fast_forward_recovery', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  const honestVersion = sim.snapshot.version;
  sim.snapshot.version = 99999;
  sim.commit('snapshot');
  sim.updateTimestamp();
  await assertRecovers(t, fx, digestOf('a'));
  sim.snapshot.version = honestVersion;
  sim.updateSnapshot();
  await assertRefusedEverywhere(t, fx, { errorClass: RollbackError, code: 'ROLLBACK', message: /offers snapshot \(listed by timestamp v\d+\) v\d+ of .*, older than v99999/ });
  // Rotating the snapshot and timestamp keys lets clients drop the fast-forwarded snapshot.
  await sim.rotateKeys('snapshot');
  await sim.rotateKeys('timestamp');
  sim.root.version += 1;
  sim.publishRoot();
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('a'));
  t.is((await trustedVersions(home, gun)).snapshot, honestVersion + 2);
});
