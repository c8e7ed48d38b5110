/**
 * Attack 2, rollback: timestamp, snapshot or targets older than what the client has seen, also after
 * the client process restarts (the trusted state is persisted in its home).
 */
import test from 'ava';
import { RollbackError } from '@tagtrust/client';
import { describeFile } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { EXIT, assertRecovers, assertRefusedEverywhere, trustState, trustedVersions } from './harness/attack.js';

test('new_timestamp_version_rollback: a complete older set of metadata', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun, home } = fx;
  const old = sim.capture();
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('b'));
  t.is((await trustedVersions(home, gun)).timestamp, 3);
  evil.serve(gun, old);
  await assertRefusedEverywhere(t, fx, {
    errorClass: RollbackError,
    code: 'ROLLBACK',
    message: /^the server offers timestamp v2 of registry\.example\.com\/team\/app, older than v3 which this client already trusts: refusing a rollback/,
  });
  evil.serve(gun, (file) => sim.fetch(file));
  await assertRecovers(t, fx, digestOf('b'));
});

test('new_timestamp_snapshot_rollback: a newer timestamp listing an older snapshot', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const oldSnapshot = { version: sim.snapshot.version, bytes: sim.fetch(`${sim.snapshot.version}.snapshot.json`)! };
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
  // With the timestamp key: timestamp v+1 pointing at the old snapshot.
  sim.timestamp.version += 1;
  sim.timestamp.meta['snapshot.json'] = describeFile(oldSnapshot.bytes, oldSnapshot.version);
  sim.commit('timestamp');
  await assertRefusedEverywhere(t, fx, { errorClass: RollbackError, code: 'ROLLBACK', message: /offers snapshot \(listed by timestamp v4\) v2 of .*, older than v3/ });
  sim.updateTimestamp();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_snapshot_version_rollback: a newer snapshot listing an older targets version', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const oldTargets = { ...sim.snapshot.meta['targets.json']! };
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('b'));
  // With the snapshot and timestamp keys: snapshot v+1 listing the old targets (where v1 -> a).
  sim.snapshot.version += 1;
  sim.snapshot.meta['targets.json'] = oldTargets;
  sim.commit('snapshot');
  sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: RollbackError, code: 'ROLLBACK', message: /offers targets \(listed by snapshot v4\) v2 of .*, older than v3/ });
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('b'));
});

test('update_snapshot_file_removed_from_meta: a newer snapshot that drops targets.json', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.snapshot.version += 1;
  sim.snapshot.meta = {};
  sim.commit('snapshot');
  sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: RollbackError, code: 'ROLLBACK', message: /snapshot v3 of .* no longer lists targets\.json/ });
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('rollback_after_restart: the persisted state protects a new client process', async (t) => {
  const fx = await attackFixture(t, { trusted: false });
  const { sim, evil, gun, home } = fx;
  const old = sim.capture();
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  // Process 1 sees the newer set and exits.
  const first = await fx.cli(['resolve', fx.ref]);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, `${gun}@${digestOf('b')}\n`);
  const before = await trustState(home, gun);
  // Process 2 (and a new library instance) get the replayed older set.
  evil.serve(gun, old);
  const second = await fx.cli(['resolve', fx.ref]);
  t.is(second.code, EXIT.ROLLBACK, second.stderr);
  t.regex(second.stderr, /older than v3 which this client already trusts/);
  await t.throwsAsync(fx.puller().resolve(fx.ref), { instanceOf: RollbackError });
  t.deepEqual(await trustState(home, gun), before);
});
