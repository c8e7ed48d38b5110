/**
 * Endless data from a server holding the online keys: the timestamp or snapshot it signs lists a
 * huge length (2^45 bytes) for the next file, which then never ends. The client caps every download
 * at min(listed length, its own cap for the role): a file listed above the cap is refused before it
 * is requested (TooLargeError, exit 11), a body is cut at the cap, and the client's memory stays
 * bounded (peak RSS of a child process).
 */
import { execFile } from 'node:child_process';
import test from 'ava';
import { METADATA_LIMITS, TooLargeError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

const HUGE = 2 ** 45;
/** Peak RSS a refused download may add to a resolve: a few tens of MB at most. */
const RSS_GROWTH_BOUND_KB = 64 * 1024;

/** The timestamp lists the next snapshot as `length` bytes; the snapshot body never ends. */
function hugeSnapshot(fx: AttackFixture, length: number): string {
  fx.sim.updateSnapshot();
  fx.sim.timestamp.meta['snapshot.json']!.length = length;
  fx.sim.commit('timestamp');
  const file = `${fx.sim.snapshot.version}.snapshot.json`;
  fx.evil.override(fx.gun, file, { endless: true });
  return file;
}

/** The snapshot lists the next targets as `length` bytes; the targets body never ends. */
function hugeTargets(fx: AttackFixture, length: number): string {
  fx.sim.publishTargets();
  fx.sim.snapshot.meta['targets.json']!.length = length;
  fx.sim.commit('snapshot');
  fx.sim.updateTimestamp();
  const file = `${fx.sim.targets.version}.targets.json`;
  fx.evil.override(fx.gun, file, { endless: true });
  return file;
}

/** Resolves `fx.ref` in a child process; its outcome and how much its peak RSS grew during the resolve. */
function resolveInChild(fx: AttackFixture): Promise<{ outcome: string; growthKb: number }> {
  const script = `
    import { Puller } from '@tagtrust/client';
    const before = process.resourceUsage().maxRSS;
    const puller = new Puller({ server: process.env.EVIL_URL, home: process.env.PULLER_HOME, warn: () => {}, timeoutMs: 6000 });
    let outcome = 'resolved';
    try { await puller.resolve(process.env.REF); } catch (err) { outcome = err.code ?? String(err); }
    process.stdout.write(JSON.stringify({ outcome, growthKb: process.resourceUsage().maxRSS - before }));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { PATH: process.env.PATH, EVIL_URL: fx.evil.url, PULLER_HOME: fx.home, REF: fx.ref } },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as { outcome: string; growthKb: number })),
    );
  });
}

test('endless_data_listed_huge_snapshot: refused before download, exit 11', async (t) => {
  const fx = await attackFixture(t);
  const file = hugeSnapshot(fx, HUGE);
  await assertRefusedEverywhere(t, fx, {
    errorClass: TooLargeError,
    code: 'TOO_LARGE',
    message: new RegExp(`^snapshot v3 of .* is listed as ${HUGE} bytes, more than the ${METADATA_LIMITS.snapshot} bytes this client allows for it; refusing to download it`),
    kept: ['timestamp.json'],
  });
  t.deepEqual(fx.evil.requested(fx.gun).filter((name) => name === file), [], 'the snapshot was never requested');
  fx.evil.clearOverrides();
  fx.sim.updateSnapshot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('endless_data_listed_huge_targets: refused before download, exit 11', async (t) => {
  const fx = await attackFixture(t);
  const file = hugeTargets(fx, HUGE);
  await assertRefusedEverywhere(t, fx, {
    errorClass: TooLargeError,
    code: 'TOO_LARGE',
    message: new RegExp(`^targets v3 of .* is listed as ${HUGE} bytes, more than the ${METADATA_LIMITS.targets} bytes this client allows`),
    kept: ['timestamp.json', 'snapshot.json'],
  });
  t.deepEqual(fx.evil.requested(fx.gun).filter((name) => name === file), [], 'the targets file was never requested');
  fx.evil.clearOverrides();
  fx.sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
});

test('endless_data_listed_huge_snapshot: the client memory stays bounded', async (t) => {
  const fx = await attackFixture(t);
  hugeSnapshot(fx, HUGE);
  const { outcome, growthKb } = await resolveInChild(fx);
  t.is(outcome, 'TOO_LARGE');
  t.log(`peak RSS growth: ${Math.round(growthKb / 1024)} MB`);
  t.true(growthKb < RSS_GROWTH_BOUND_KB, `peak RSS grew by ${growthKb} KB`);
});

test('endless_data_targets_listed_at_the_cap: cut at the cap, the client memory stays bounded', async (t) => {
  const fx = await attackFixture(t);
  hugeTargets(fx, METADATA_LIMITS.targets);
  const { outcome, growthKb } = await resolveInChild(fx);
  t.is(outcome, 'TOO_LARGE');
  t.log(`peak RSS growth: ${Math.round(growthKb / 1024)} MB`);
  t.true(growthKb < RSS_GROWTH_BOUND_KB, `peak RSS grew by ${growthKb} KB`);
});
