/**
 * Attack 8, slow retrieval: a server that drips bytes or never answers. Every request of an operation
 * shares one deadline (library option `timeoutMs`, CLI `--timeout SECONDS`, default 30 s), so the
 * client gives up within it with a TimeoutError.
 */
import test from 'ava';
import { DEFAULT_TIMEOUT_MS, TimeoutError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { EXIT, assertOnlyKept, assertRecovers, assertRefused, trustState } from './harness/attack.js';

test('slow_retrieval_drip: one byte every 200 ms', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.updateTimestamp();
  fx.evil.override(fx.gun, 'timestamp.json', { drip: fx.sim.fetch('timestamp.json')!, intervalMs: 200 });
  const before = await trustState(fx.home, fx.gun);
  const started = Date.now();
  const err = await assertRefused(t, fx.puller({ timeoutMs: 1000 }).resolve(fx.ref), TimeoutError, 'TIMEOUT', /^resolving registry\.example\.com\/team\/app:v1 did not finish within 1s \((waiting for|downloading) timestamp\.json\): the server is slow or not answering .*; retry, or raise --timeout/);
  t.true(Date.now() - started < 4000, `gave up after ${Date.now() - started} ms`);
  t.truthy(err);
  t.deepEqual(await trustState(fx.home, fx.gun), before);
  const cliStarted = Date.now();
  const cli = await fx.cli(['resolve', fx.ref, '--timeout', '1']);
  t.is(cli.code, EXIT.TIMEOUT, cli.stderr);
  t.regex(cli.stderr, /did not finish within 1s/);
  t.true(Date.now() - cliStarted < 10_000);
  t.deepEqual(await trustState(fx.home, fx.gun), before);
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('slow_retrieval_never_answers', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.updateSnapshot();
  fx.evil.override(fx.gun, `${fx.sim.snapshot.version}.snapshot.json`, { hang: true });
  const before = await trustState(fx.home, fx.gun);
  const started = Date.now();
  await assertRefused(t, fx.puller({ timeoutMs: 800 }).resolve(fx.ref), TimeoutError, 'TIMEOUT', /did not finish within 0\.8s \(waiting for 3\.snapshot\.json\)/);
  t.true(Date.now() - started < 4000);
  // The new timestamp verified before the snapshot download hung: it is kept (client workflow 5.4.5).
  assertOnlyKept(t, before, await trustState(fx.home, fx.gun), ['timestamp.json']);
  const cli = await fx.cli(['resolve', fx.ref, '--timeout', '0.8']);
  t.is(cli.code, EXIT.TIMEOUT, cli.stderr);
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('slow_retrieval_default_deadline', (t) => {
  t.is(DEFAULT_TIMEOUT_MS, 30_000);
});
