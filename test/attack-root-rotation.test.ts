/**
 * Attack 10, root rotation: the client walks N.root.json, refuses a new root that the old root's
 * threshold did not sign, a root served under another version, and a chain longer than its limit.
 */
import test from 'ava';
import { generateKeyPair } from '@tagtrust/keys';
import { BadVersionError, RollbackError, UntrustedRootError } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { assertOnlyKept, assertRecovers, assertRefused, assertRefusedEverywhere, leftovers, trustState, trustedVersions } from './harness/attack.js';

test('root_rotation: the client walks every new root', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  for (let i = 0; i < 3; i += 1) {
    await sim.rotateKeys('root');
    await sim.rotateKeys('targets');
    sim.root.version += 1;
    sim.publishRoot();
  }
  sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
  t.is((await trustedVersions(home, gun)).root, 4);
  t.deepEqual(fx.evil.requested(gun).filter((f) => f.endsWith('.root.json')).slice(-4), ['2.root.json', '3.root.json', '4.root.json', '5.root.json']);
});

test('intermediate_root_incorrectly_signed: a new root not signed by the old root\'s threshold', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const attacker = await generateKeyPair('ed25519');
  sim.root.version += 1;
  sim.root.keys[attacker.keyId] = attacker.publicKey;
  sim.root.roles.root = { keyids: [attacker.keyId], threshold: 1 };
  sim.publishRoot([attacker]);
  await assertRefusedEverywhere(t, fx, {
    errorClass: UntrustedRootError,
    code: 'UNTRUSTED_ROOT',
    message: /^root v2 of .* is not signed by the threshold of root v1's keys and its own \(0\/1\): refusing the new root/,
  });
  // The honest root v2 (signed by the old and new keys) is accepted.
  delete sim.root.keys[attacker.keyId];
  sim.root.roles.root = { keyids: sim.signers.get('root')!.map((k) => k.keyId), threshold: 1 };
  await sim.rotateKeys('root');
  sim.publishRoot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('intermediate_root_below_threshold: root keys 2-of-3, a new root signed by one', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const keys = await sim.rotateKeys('root', 3, 2);
  sim.root.version += 1;
  sim.publishRoot();
  await assertRecovers(t, fx, digestOf('a'));
  sim.root.version += 1;
  sim.publishRoot([keys[0]!]);
  await assertRefusedEverywhere(t, fx, { errorClass: UntrustedRootError, code: 'UNTRUSTED_ROOT', message: /^root v3 of .* \(1\/2\)/ });
  sim.publishRoot([keys[0]!, keys[2]!]);
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_root_nonconsecutive_version: root v3 served as 2.root.json', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun } = fx;
  sim.root.version += 2;
  sim.publishRoot();
  evil.override(gun, '2.root.json', sim.fetch('3.root.json')!);
  await assertRefusedEverywhere(t, fx, { errorClass: BadVersionError, code: 'BAD_VERSION', message: /served root v3 of .* as 2\.root\.json/ });
  evil.clearOverrides();
  sim.files.delete('3.root.json');
  sim.root.version = 2;
  sim.publishRoot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('new_root_same_version: the trusted root v1 replayed as 2.root.json', async (t) => {
  const fx = await attackFixture(t);
  const { sim, evil, gun } = fx;
  evil.override(gun, '2.root.json', sim.fetch('1.root.json')!);
  await assertRefusedEverywhere(t, fx, { errorClass: RollbackError, code: 'ROLLBACK', message: /^the server offers root v1 of .* as 2\.root\.json, but this client already trusts root v1: refusing a rollback/ });
  evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('max_root_rotations: a root chain longer than the client accepts', async (t) => {
  const fx = await attackFixture(t);
  const { sim, home, gun } = fx;
  for (let i = 0; i < 4; i += 1) {
    await sim.rotateKeys('root');
    sim.root.version += 1;
    sim.publishRoot();
  }
  const before = await trustState(home, gun);
  await assertRefused(t, fx.puller({ maxRootRotations: 3 }).resolve(fx.ref), UntrustedRootError, 'UNTRUSTED_ROOT',
    /^the root chain of .* is longer than this client accepts in one update: trusted root v1, the server offers v5 and more, limit 3 rotations/);
  // Roots v2-v4 verified within the limit and are kept (client workflow 5.3.8); v5 is not, nor anything after it.
  assertOnlyKept(t, before, await trustState(home, gun), ['root.json']);
  t.is((await trustedVersions(home, gun)).root, 4);
  t.deepEqual(await leftovers(home), []);
  // The limit is per update: the next one walks on from v4.
  const cli = await fx.cli(['resolve', fx.ref, '--max-root-rotations', '3']);
  t.is(cli.code, 0, cli.stderr);
  t.is((await trustedVersions(home, gun)).root, 5);
});
