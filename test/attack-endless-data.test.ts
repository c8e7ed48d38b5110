/**
 * Attack 7, endless data: timestamp, snapshot, targets and root bodies that never end. The client
 * reads up to a cap (the length the parent role lists, or the role's size limit), drops the
 * connection and fails with TooLargeError; the server can push only what fits in socket buffers.
 */
import test from 'ava';
import { METADATA_LIMITS, TooLargeError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefused, assertRefusedEverywhere } from './harness/attack.js';

/** Far more than any cap, far less than what an endless body would reach if read whole. */
const SENT_BOUND = 64 * 1024 * 1024;

async function assertBounded(t: import('ava').ExecutionContext, fx: AttackFixture, file: string): Promise<void> {
  const records = fx.evil.requests.filter((r) => r.file === file);
  t.true(records.length > 0);
  for (const record of records) t.true(record.bytesSent < SENT_BOUND, `sent ${record.bytesSent} bytes of ${file}`);
  // The client closed every endless response.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.true(records.every((r) => r.done), 'every connection was closed');
}

test('endless_data_timestamp', async (t) => {
  const fx = await attackFixture(t);
  fx.evil.override(fx.gun, 'timestamp.json', { endless: true });
  await assertRefusedEverywhere(t, fx, { errorClass: TooLargeError, code: 'TOO_LARGE', message: new RegExp(`^timestamp of .* is larger than the ${METADATA_LIMITS.timestamp} bytes allowed for it; stopped reading`) });
  await assertBounded(t, fx, 'timestamp.json');
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('endless_data_snapshot', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.updateSnapshot();
  const file = `${fx.sim.snapshot.version}.snapshot.json`;
  fx.evil.override(fx.gun, file, { endless: true });
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: TooLargeError, code: 'TOO_LARGE', message: /^snapshot v3 of .* is larger than the \d+ bytes allowed for it/ });
  await assertBounded(t, fx, file);
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('endless_data_targets', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.publishTargets();
  const file = `${fx.sim.targets.version}.targets.json`;
  fx.evil.override(fx.gun, file, { endless: true });
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: TooLargeError, code: 'TOO_LARGE', message: /^targets v3 of .* is larger than/ });
  await assertBounded(t, fx, file);
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('endless_data_targets_without_listed_length: capped at the targets limit', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.targets.version += 1;
  sim.commit('targets');
  sim.snapshot.version += 1;
  sim.snapshot.meta['targets.json'] = { version: sim.targets.version };
  sim.commit('snapshot');
  sim.updateTimestamp();
  const file = `${sim.targets.version}.targets.json`;
  fx.evil.override(fx.gun, file, { endless: true });
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: TooLargeError, code: 'TOO_LARGE', message: new RegExp(`larger than the ${METADATA_LIMITS.targets} bytes allowed`) });
  await assertBounded(t, fx, file);
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('endless_data_root', async (t) => {
  const fx = await attackFixture(t);
  fx.evil.override(fx.gun, '2.root.json', { endless: true });
  await assertRefusedEverywhere(t, fx, { errorClass: TooLargeError, code: 'TOO_LARGE', message: new RegExp(`^root v2 of .* larger than the ${METADATA_LIMITS.root} bytes`) });
  await assertBounded(t, fx, '2.root.json');
  // A client bootstrapping from root.json is capped too.
  fx.evil.override(fx.gun, 'root.json', { endless: true });
  const freshHome = await fx.freshHome();
  await assertRefused(t, fx.puller({ home: freshHome }).resolve(fx.ref), TooLargeError, 'TOO_LARGE', new RegExp(`^root of .* larger than the ${METADATA_LIMITS.root} bytes`));
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});
