/**
 * The trusted state of a collection (TAGTRUST_HOME/trust/<gun>/): each role is kept once verified (the
 * specification's client workflow), also when a later step fails; nothing refused is ever kept; the
 * files are private; concurrent updates never regress it. Crashes: trusted-state-crash.test.ts.
 */
import test from 'ava';
import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MismatchError, NotSignedError, RollbackError, SubstitutionError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { EXIT, assertOnlyKept, assertRefused, leftovers, trustState, trustedVersions } from './harness/attack.js';
import { trustDirOf } from './harness/paths.js';

test('persist_each_role_once_verified: a failed update keeps what it verified, never what it refused', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 2, snapshot: 2, targets: 2 });

  // New root, timestamp and snapshot verify (client workflow 5.3.8, 5.4.5, 5.5.7); then targets fail.
  await sim.rotateKeys('timestamp');
  sim.root.version += 1;
  sim.publishRoot();
  sim.targets.targets['registry.example.com/other/app:v1'] = { length: 1, hashes: { sha256: 'e'.repeat(64) } };
  sim.publishTargets();
  const before = await trustState(home, gun);
  await assertRefused(t, fx.puller().resolve(fx.ref), SubstitutionError, 'SUBSTITUTION');
  assertOnlyKept(t, before, await trustState(home, gun), ['root.json', 'timestamp.json', 'snapshot.json']);
  t.deepEqual(await trustedVersions(home, gun), { root: 2, timestamp: 3, snapshot: 3, targets: 2 }, 'the refused targets v3 is not kept');
  t.deepEqual(await leftovers(home), []);
  t.deepEqual((await readdir(join(home, 'trust'))).sort(), [encodeURIComponent(gun)]);

  // An error of the caller after a successful verification (an unsigned tag) keeps the verified state.
  delete sim.targets.targets['registry.example.com/other/app:v1'];
  sim.publishTargets();
  await assertRefused(t, fx.puller().resolve(`${gun}:nope`), NotSignedError, 'NOT_SIGNED', /registry\.example\.com\/team\/app:nope is not signed/);
  t.deepEqual(await trustedVersions(home, gun), { root: 2, timestamp: 4, snapshot: 4, targets: 4 });
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'));
});

test('failed_update_raises_the_rollback_floor: a timestamp verified before a failing snapshot refuses later replays', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, home, gun } = fx;
  const older = sim.capture();
  // Timestamp v3 is genuine; the snapshot it lists is served corrupted (the update fails at 5.5.2).
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  const corrupted = Buffer.from(sim.fetch(`${sim.snapshot.version}.snapshot.json`)!);
  const at = corrupted.lastIndexOf('"sig":"') + 7;
  corrupted[at] = corrupted[at] === 0x30 ? 0x31 : 0x30; // another hex digit: the bytes the timestamp lists no longer
  evil.override(gun, `${sim.snapshot.version}.snapshot.json`, corrupted);
  await assertRefused(t, fx.puller().resolve(fx.ref), MismatchError, 'MISMATCH');
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 3, snapshot: 2, targets: 2 });
  // The complete older set (timestamp v2) is now a rollback, for the library and the CLI.
  evil.clearOverrides();
  evil.serve(gun, (file) => older.get(file));
  await assertRefused(t, fx.puller().resolve(fx.ref), RollbackError, 'ROLLBACK', /offers timestamp v2 of .*, older than v3/);
  t.is((await fx.cli(['resolve', fx.ref])).code, EXIT.ROLLBACK);
  evil.serve(gun, (file) => sim.fetch(file));
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('b'));
});

test('trust_files_are_private: 0600 files and 0700 directories, also for state an older client left 0644', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  const dir = trustDirOf(home, gun);
  await chmod(join(dir, 'timestamp.json'), 0o644);
  await chmod(dir, 0o755);
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('b'));
  for (const path of [join(home, 'trust'), dir]) t.is((await stat(path)).mode & 0o777, 0o700, path);
  for (const name of await readdir(dir)) t.is((await stat(join(dir, name))).mode & 0o777, 0o600, name);
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
