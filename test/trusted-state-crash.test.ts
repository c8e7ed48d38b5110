/**
 * A client killed (SIGKILL) in the middle of committing an update leaves the trusted state either all
 * old or, once the next run replays the commit's journal, all new: never a snapshot newer than the
 * timestamp that lists it. Work copies of dead processes are removed; those of live ones are not.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CLI, digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { leftovers, trustState, trustedVersions } from './harness/attack.js';
import { trustDirOf } from './harness/paths.js';

/** `tagtrust resolve` killed by SIGKILL after `steps` renames of its commit; resolves to the signal. */
function resolveKilledAt(server: string, home: string, ref: string, steps: number): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'resolve', ref],
      { env: { PATH: process.env.PATH, TAGTRUST_SERVER: server, TAGTRUST_HOME: home, TAGTRUST_TEST_KILL_AFTER_COMMIT_STEPS: String(steps) } },
      (error) => resolve(error?.signal ?? null),
    );
  });
}

/** The timestamp lists exactly the trusted snapshot, which lists exactly the trusted targets. */
function consistent(state: Record<string, string>): boolean {
  const signed = (name: string) => (JSON.parse(state[name]!) as { signed: { version: number; meta: Record<string, { version: number }> } }).signed;
  return signed('timestamp.json').meta['snapshot.json']!.version === signed('snapshot.json').version &&
    signed('snapshot.json').meta['targets.json']!.version === signed('targets.json').version;
}

for (const steps of [1, 2, 3]) {
  test(`killed_during_commit: SIGKILL after ${steps} of 4 renames; the next run finishes the commit`, async (t) => {
    const fx = await attackFixture(t);
    const { sim, evil, home, gun } = fx;
    sim.addTarget('v1', digestOf('b'), 100);
    sim.publishTargets(); // timestamp, snapshot and targets v3
    t.is(await resolveKilledAt(evil.url, home, fx.ref, steps), 'SIGKILL');
    const torn = await trustState(home, gun);
    t.true(Object.keys(torn).some((name) => name.startsWith('.commit-')), 'the journal survived the crash');
    t.is((await leftovers(home)).length, 1, 'the work copy survived the crash');
    // Renames go root, timestamp, snapshot, targets: after 2 or 3 the files on disk disagree.
    if (steps >= 2) t.false(consistent(torn), 'the crash tore the state apart');

    // The next run (library, then CLI) replays the journal before it reads anything.
    t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('b'));
    const state = await trustState(home, gun);
    t.true(consistent(state));
    t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 3, snapshot: 3, targets: 3 });
    t.deepEqual(await leftovers(home), []);
    t.deepEqual(Object.keys(state).filter((name) => name.startsWith('.')), []);
  });
}

test('killed_before_commit: a work copy without a journal is dropped and the old state stays', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, home, gun } = fx;
  const before = await trustState(home, gun);
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  // Killed while downloading: a timestamp that never finishes.
  evil.override(gun, 'timestamp.json', { hang: true });
  const asked = () => evil.requested(gun).filter((file) => file === 'timestamp.json').length;
  const askedBefore = asked();
  const child = spawn(process.execPath, [CLI, 'resolve', fx.ref], { env: { PATH: process.env.PATH, TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: home }, stdio: 'ignore' });
  while (asked() === askedBefore) await new Promise((resolve) => setTimeout(resolve, 20));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  t.is((await leftovers(home)).length, 1);
  t.deepEqual(await trustState(home, gun), before);
  evil.clearOverrides();
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('b'));
  t.deepEqual(await leftovers(home), []);
});

test('live_work_copies_are_left_alone: only dead owners are cleaned up', async (t) => {
  const fx = await attackFixture(t);
  const { home } = fx;
  const host = hostname().replace(/[^A-Za-z0-9]/g, '_').slice(0, 40);
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => sleeper.kill('SIGKILL'));
  const live = `.update-${host}-${sleeper.pid}-0badc0de`;
  await mkdir(join(home, 'trust', live));
  await fx.puller().resolve(fx.ref);
  t.deepEqual(await leftovers(home), [live], 'a live process keeps its work copy');
  const exited = new Promise((resolve) => sleeper.once('exit', resolve));
  sleeper.kill('SIGKILL');
  await exited;
  await fx.puller().resolve(fx.ref);
  t.deepEqual(await leftovers(home), []);
  t.deepEqual((await readdir(trustDirOf(home, fx.gun))).filter((name) => name.startsWith('.')), []);
});
