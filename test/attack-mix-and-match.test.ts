/**
 * Attack 4, mix-and-match: the current timestamp and snapshot with an older targets file, or bytes that
 * do not match the length and hash (or version) their parent role lists.
 */
import test from 'ava';
import { MismatchError, ServerError, TooLargeError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

test('new_targets_hash_mismatch: current timestamp and snapshot served with the older targets file', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun } = fx;
  const oldTargets = sim.fetch(`${sim.targets.version}.targets.json`)!;
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  // The attacker answers 3.targets.json with the bytes of 2.targets.json (same length, other hash).
  evil.override(gun, `${sim.targets.version}.targets.json`, oldTargets);
  await assertRefusedEverywhere(t, fx, {
    kept: ['timestamp.json', 'snapshot.json'], errorClass: MismatchError,
    code: 'MISMATCH',
    message: /^targets v2 of .* does not match the length and hash its parent role lists \(Expected hash \w+ but got \w+\): mix-and-match/,
  });
  evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('b'));
});

test('new_snapshot_hash_mismatch: snapshot bytes other than those the timestamp lists', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun } = fx;
  sim.updateSnapshot();
  const listed = sim.fetch(`${sim.snapshot.version}.snapshot.json`)!;
  const altered = Buffer.from(listed.toString().replace(/"sig":"(.)/, (_m, c: string) => `"sig":"${c === '0' ? '1' : '0'}`));
  evil.override(gun, `${sim.snapshot.version}.snapshot.json`, altered);
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: MismatchError, code: 'MISMATCH', message: /^snapshot v3 of .* does not match the length and hash/ });
  evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_targets_length_mismatch: a targets file longer than the snapshot lists is cut off', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun } = fx;
  sim.publishTargets();
  const file = `${sim.targets.version}.targets.json`;
  evil.override(gun, file, Buffer.concat([sim.fetch(file)!, Buffer.from('          ')]));
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: TooLargeError, code: 'TOO_LARGE', message: /^targets v3 of .* is larger than the \d+ bytes allowed for it/ });
  evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_snapshot_version_mismatch: the timestamp lists a snapshot version the served snapshot does not have', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  // With the timestamp key, without hashes: timestamp lists snapshot v3, the file at 3.snapshot.json says v2.
  const current = sim.fetch(`${sim.snapshot.version}.snapshot.json`)!;
  sim.files.set(`${sim.snapshot.version + 1}.snapshot.json`, current);
  sim.timestamp.version += 1;
  sim.timestamp.meta['snapshot.json'] = { version: sim.snapshot.version + 1 };
  sim.commit('timestamp');
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: MismatchError, code: 'MISMATCH', message: /^snapshot v2 of .* is not the version timestamp v3 lists \(v3\): mix-and-match/ });
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_targets_version_mismatch: the snapshot lists a targets version the served targets does not have', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const current = sim.fetch(`${sim.targets.version}.targets.json`)!;
  sim.files.set(`${sim.targets.version + 1}.targets.json`, current);
  sim.snapshot.version += 1;
  sim.snapshot.meta['targets.json'] = { version: sim.targets.version + 1 };
  sim.commit('snapshot');
  sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: MismatchError, code: 'MISMATCH', message: /^targets v2 of .* is not the version snapshot v3 lists \(v3\): mix-and-match/ });
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
});

test('missing_listed_snapshot: the server lacks the snapshot its timestamp lists', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun } = fx;
  sim.updateSnapshot();
  evil.override(gun, `${sim.snapshot.version}.snapshot.json`, { status: 404 });
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: ServerError, code: 'SERVER', message: /^downloading snapshot of .* failed \(HTTP 404/ });
  evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});
