/**
 * Attack 3, freeze: expired timestamp, snapshot or targets; and a timestamp that has not expired but
 * was signed longer ago than the puller's maxAge (option `maxAgeMs`, flag `--max-age`).
 */
import test from 'ava';
import { ExpiredMetadataError } from '@tagtrust/client';
import { TIMESTAMP_SIGNED_AT, expiresAfter } from '@tagtrust/shared';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import { attackFixture } from './harness/fixture.js';
import { EXIT, assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

const HOUR = 3600_000;

test('new_timestamp_expired', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.timestamp.version += 1;
  sim.timestamp.expires = sim.expired();
  sim.commit('timestamp');
  await assertRefusedEverywhere(t, fx, {
    errorClass: ExpiredMetadataError,
    code: 'EXPIRED',
    message: /^timestamp v3 of registry\.example\.com\/team\/app expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(now .*\): .*freeze attack/,
  });
  sim.updateTimestamp();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_snapshot_expired', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.snapshot.version += 1;
  sim.snapshot.expires = sim.expired();
  sim.commit('snapshot');
  sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json'], errorClass: ExpiredMetadataError, code: 'EXPIRED', message: /^snapshot v3 of .* expired at / });
  sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_targets_expired', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.targets.version += 1;
  sim.targets.expires = sim.expired();
  sim.commit('targets');
  sim.updateSnapshot();
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json'], errorClass: ExpiredMetadataError, code: 'EXPIRED', message: /^targets v3 of .* expired at / });
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
});

test('final_root_expired', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.root.version += 1;
  sim.root.expires = sim.expired();
  sim.publishRoot();
  await assertRefusedEverywhere(t, fx, { kept: ['root.json'], errorClass: ExpiredMetadataError, code: 'EXPIRED', message: /^root v2 of .* expired at / });
  sim.root.version += 1;
  sim.root.expires = sim.expiry('root');
  sim.publishRoot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('timestamp_older_than_max_age: not expired, but signed longer ago than the puller accepts', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  // A genuine timestamp signed 2 h ago, valid for 4 more hours, replayed by a mirror.
  sim.timestamp.version += 1;
  sim.timestamp[TIMESTAMP_SIGNED_AT] = expiresAfter(new Date(Date.now() - 2 * HOUR), 0);
  sim.timestamp.expires = sim.expiry('timestamp', -2 * HOUR);
  sim.commit('timestamp');
  // Pullers relying on expiry accept it; a 1 h max age refuses it.
  await assertRecovers(t, fx, digestOf('a'));
  const err = await assertRefusedEverywhere(t, fx, {
    errorClass: ExpiredMetadataError,
    code: 'EXPIRED',
    options: { maxAgeMs: HOUR },
    cliArgs: ['--max-age', '1h'],
    message: /^timestamp v3 of .* was signed at \S+Z, 2h\d*m? ago, longer ago than your max age 60m \(it expires at \S+\): .*freeze attack/,
  });
  t.regex(err.message, /raise --max-age/);
  t.is((await fx.puller({ maxAgeMs: 3 * HOUR }).resolve(fx.ref)).digest, digestOf('a'));
  sim.updateTimestamp();
  await assertRecovers(t, fx, digestOf('a'), { maxAgeMs: HOUR });
});

test('max_age_without_signing_time: a timestamp that does not say when it was signed', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  sim.timestamp.version += 1;
  delete sim.timestamp[TIMESTAMP_SIGNED_AT];
  sim.commit('timestamp');
  await assertRefusedEverywhere(t, fx, {
    kept: ['timestamp.json'], errorClass: ExpiredMetadataError,
    code: 'EXPIRED',
    options: { maxAgeMs: HOUR },
    cliArgs: ['--max-age', '1h'],
    message: /does not say when it was signed, so max age 60m cannot be enforced/,
  });
  await assertRecovers(t, fx, digestOf('a'));
});

test('max_age_with_real_server: tagtrust-server records the signing time, so --max-age works against it', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const gun = 'registry.example.com/team/app';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  const home = await tempHome();
  t.is((await pullerFor(server.url, home, { maxAgeMs: 60_000 }).resolve(`${gun}:v1`)).digest, digestOf('a'));
  const cli = await runCli(['resolve', `${gun}:v1`, '--max-age', '1m'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(cli.code, 0, cli.stderr);
  const bad = await runCli(['resolve', `${gun}:v1`, '--max-age', 'soon'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--max-age "soon" must be a duration like 90s, 30m, 3h or 1d/);
  t.not(EXIT.EXPIRED, 0);
});
