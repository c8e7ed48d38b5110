/**
 * Attacks through delegated targets roles, on the client: a malicious server (the harness) serves
 * crafted delegated metadata, and the library (Puller.resolve and Puller.list) and `tagtrust
 * resolve` must not take a mapping from it. The same attacks against the real server, which refuses
 * to store them, are in delegation-attacks.test.ts; this is what a client does when a server,
 * mirror or network serves them anyway.
 *
 * Names follow python-tuf / tuf-conformance where a test exists (test_updater_delegation_graphs:
 * test_graph_traversal, test_targetfile_search, test_invalid_metadata).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { generateKeyPair } from '@tagtrust/keys';
import { MalformedMetadataError, MismatchError, NotSignedError, RollbackError, SignatureError } from '@tagtrust/client';
import type { PullerOptions } from '@tagtrust/client';
import { describeFile } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { EXIT, assertRecovers, assertRefusedEverywhere, trustState, trustedVersions } from './harness/attack.js';

const CI = 'targets/ci';
const CI_FILE = `${encodeURIComponent(CI)}.json`;

/** The fixture, with `ref` set to another tag of the collection (for assertRefusedEverywhere). */
const at = (fx: AttackFixture, tag: string): AttackFixture => ({ ...fx, ref: `${fx.gun}:${tag}` });

/** A puller whose warnings are collected. */
function warned(fx: AttackFixture, options: Partial<PullerOptions> = {}) {
  const warnings: string[] = [];
  return { puller: fx.puller({ ...options, warn: (message) => warnings.push(message) }), warnings };
}

/** [tag, digest, signedBy] of `list()`. */
async function listed(fx: AttackFixture, options: Partial<PullerOptions> = {}): Promise<string[][]> {
  return (await fx.puller(options).list(fx.gun)).map((tag) => [tag.tag, tag.digest, tag.signedBy]);
}

/**
 * The attack fixture (targets signs v1 -> a) with targets/ci delegated `<gun>:dev-*`, signing
 * dev-1 -> c; the client has resolved dev-1, so it trusts targets/ci as published.
 */
async function ciFixture(t: ExecutionContext, options: { threshold?: number; keys?: number } = {}): Promise<AttackFixture> {
  const fx = await attackFixture(t);
  const { sim, gun } = fx;
  await sim.addDelegation(CI, { paths: [`${gun}:dev-*`] }, 'targets', options);
  sim.addTarget('dev-1', digestOf('c'), 100, CI);
  sim.publishTargets(CI);
  sim.publishTargets();
  await assertRecovers(t, at(fx, 'dev-1'), digestOf('c'));
  t.is((await trustedVersions(fx.home, gun))[encodeURIComponent(CI)], 1);
  return fx;
}

test('delegate_signs_outside_its_paths: targets/ci (dev-*) signs v1.0.0 and v1; neither is taken from it', async (t) => {
  const fx = await ciFixture(t);
  const { sim, gun } = fx;
  // The holder of the targets/ci key signs tags outside its paths; the server publishes it.
  sim.addTarget('v1.0.0', digestOf('e'), 100, CI);
  sim.addTarget('v1', digestOf('e'), 100, CI);
  sim.publishTargets(CI);
  await assertRefusedEverywhere(t, at(fx, 'v1.0.0'), { kept: ['timestamp.json', 'snapshot.json'], errorClass: NotSignedError, code: 'NOT_SIGNED', message: /:v1\.0\.0 is not signed/ });
  // The top-level targets also signs v1: its answer wins.
  await assertRecovers(t, fx, digestOf('a'));
  const cli = await fx.cli(['resolve', fx.ref]);
  t.is(cli.code, 0, cli.stderr);
  t.is(cli.stdout, `${gun}@${digestOf('a')}\n`);
  // targets/ci still answers for its own paths, and list shows only what a lookup finds.
  await assertRecovers(t, at(fx, 'dev-1'), digestOf('c'));
  t.deepEqual(await listed(fx), [
    ['dev-1', digestOf('c'), CI],
    ['v1', digestOf('a'), 'targets'],
  ]);
  const json = await fx.cli(['list', gun, '--json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(
    (JSON.parse(json.stdout) as { tag: string; signedBy: string }[]).map((tag) => [tag.tag, tag.signedBy]),
    [
      ['dev-1', CI],
      ['v1', 'targets'],
    ],
  );
});

test('delegate_delegates_beyond_its_paths: targets/ci (dev-*) delegates "*" to targets/ci/sub, which signs v1.0.0', async (t) => {
  const fx = await ciFixture(t);
  const { sim, gun } = fx;
  await sim.addDelegation(`${CI}/sub`, { paths: [`${gun}:*`] }, CI);
  sim.addTarget('v1.0.0', digestOf('e'), 100, `${CI}/sub`);
  sim.addTarget('dev-2', digestOf('d'), 100, `${CI}/sub`);
  sim.publishTargets(`${CI}/sub`);
  sim.publishTargets(CI);
  // A lookup of v1.0.0 never enters targets/ci, so the wider pattern below it is never consulted.
  await assertRefusedEverywhere(t, at(fx, 'v1.0.0'), { kept: ['timestamp.json', 'snapshot.json'], errorClass: NotSignedError, code: 'NOT_SIGNED' });
  // Within targets/ci's own paths the sub-delegation works.
  await assertRecovers(t, at(fx, 'dev-2'), digestOf('d'));
  t.deepEqual(await listed(fx), [
    ['dev-1', digestOf('c'), CI],
    ['dev-2', digestOf('d'), `${CI}/sub`],
    ['v1', digestOf('a'), 'targets'],
  ]);
});

test('delegated_role_below_threshold: a 2-of-3 role signed by one stolen key', async (t) => {
  const fx = await ciFixture(t, { keys: 3, threshold: 2 });
  const { sim } = fx;
  const [first, second] = sim.signers.get(CI)!;
  const dev1 = at(fx, 'dev-1');
  sim.addTarget('dev-1', digestOf('e'), 100, CI);
  sim.delegates.get(CI)!.version += 1;
  sim.commit(CI, [first!]);
  sim.updateSnapshot();
  const err = await assertRefusedEverywhere(t, dev1, { kept: ['timestamp.json', 'snapshot.json'], errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /^targets\/ci v2 of .* \(1\/2\)/ });
  t.regex(err.message, /refusing it/);
  // list leaves the role's tags out, with a warning naming it, instead of failing.
  const { puller, warnings } = warned(fx);
  t.deepEqual(
    (await puller.list(fx.gun)).map((tag) => tag.tag),
    ['v1'],
  );
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /^targets\/ci of .* fails verification .*its tags are not listed/);
  // The stolen key's signature twice does not make two: the guard refuses the file outright.
  const doubled = JSON.parse(sim.fetch(`2.${CI_FILE}`)!.toString('utf8')) as { signatures: unknown[] };
  doubled.signatures.push(doubled.signatures[0]);
  sim.files.set(`2.${CI_FILE}`, Buffer.from(JSON.stringify(doubled)));
  sim.updateSnapshot();
  await assertRefusedEverywhere(t, dev1, { kept: ['timestamp.json', 'snapshot.json'], errorClass: MalformedMetadataError, code: 'MALFORMED_METADATA', message: /^targets\/ci v2 of .* two signatures by key/ });
  // That refusal happens at download, so list fails as a whole rather than leaving the role out.
  await t.throwsAsync(fx.puller().list(fx.gun), { instanceOf: MalformedMetadataError });
  // The publishers sign with two keys again: honest.
  sim.commit(CI, [first!, second!]);
  sim.updateSnapshot();
  await assertRecovers(t, dev1, digestOf('e'));
  t.deepEqual(await listed(fx), [
    ['dev-1', digestOf('e'), CI],
    ['v1', digestOf('a'), 'targets'],
  ]);
});

test('invalid_metadata: a delegated role signed by a key its delegator does not list', async (t) => {
  const fx = await ciFixture(t);
  const { sim } = fx;
  const attacker = await generateKeyPair('ed25519');
  sim.addTarget('dev-1', digestOf('e'), 100, CI);
  sim.delegates.get(CI)!.version += 1;
  sim.commit(CI, [attacker]);
  sim.updateSnapshot();
  // The client never trusted targets listing the attacker's key: not reported as a revocation only.
  await assertRefusedEverywhere(t, at(fx, 'dev-1'), { kept: ['timestamp.json', 'snapshot.json'], errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /^targets\/ci v2 of .* is signed by key [0-9a-f]{8}, which targets does not list for it: .*; if not, the role is forged\. Refusing it$/ });
  t.deepEqual(await listed(fx), [['v1', digestOf('a'), 'targets']]);
  sim.commit(CI);
  sim.updateSnapshot();
  await assertRecovers(t, at(fx, 'dev-1'), digestOf('e'));
});

/** targets/release (`<gun>:rel-*`): v1 signs rel -> c, v2 moves it to d; the client has seen v2. */
async function releaseFixture(t: ExecutionContext) {
  const fx = await attackFixture(t);
  const { sim, gun } = fx;
  const rel = at(fx, 'rel');
  await sim.addDelegation('targets/release', { paths: [`${gun}:rel*`] });
  sim.addTarget('rel', digestOf('c'), 100, 'targets/release');
  sim.publishTargets('targets/release');
  sim.publishTargets();
  await assertRecovers(t, rel, digestOf('c'));
  const v1 = sim.fetch(`1.${encodeURIComponent('targets/release')}.json`)!;
  sim.addTarget('rel', digestOf('d'), 100, 'targets/release');
  sim.publishTargets('targets/release');
  await assertRecovers(t, rel, digestOf('d'));
  t.is((await trustedVersions(fx.home, gun))[encodeURIComponent('targets/release')], 2);
  return { fx, rel, v1, v2: sim.fetch(`2.${encodeURIComponent('targets/release')}.json`)! };
}

test('replayed_old_delegated_role_version: a newer snapshot listing targets/release v1 after v2', async (t) => {
  const { fx, rel, v1 } = await releaseFixture(t);
  const { sim } = fx;
  // With the snapshot and timestamp keys: snapshot v+1 listing the old, validly signed v1 (rel -> c).
  sim.snapshot.version += 1;
  sim.snapshot.meta['targets/release.json'] = describeFile(v1, 1);
  sim.commit('snapshot');
  sim.updateTimestamp();
  const message = /^the server offers targets\/release \(listed by snapshot v\d+\) v1 of .*, older than v2 which this client already trusts: refusing a rollback/;
  await assertRefusedEverywhere(t, rel, { kept: ['timestamp.json'], errorClass: RollbackError, code: 'ROLLBACK', message });
  // list refuses the whole update too (the snapshot itself is the rollback).
  const before = await trustState(fx.home, fx.gun);
  await t.throwsAsync(fx.puller().list(fx.gun), { instanceOf: RollbackError, message });
  const cli = await fx.cli(['list', fx.gun]);
  t.is(cli.code, EXIT.ROLLBACK, cli.stderr);
  t.deepEqual(await trustState(fx.home, fx.gun), before);
  sim.updateSnapshot();
  await assertRecovers(t, rel, digestOf('d'));
});

test('replayed_old_delegated_role_version: v1 bytes served where the snapshot lists v2', async (t) => {
  const { fx, rel, v1 } = await releaseFixture(t);
  const { evil, gun } = fx;
  const file = `2.${encodeURIComponent('targets/release')}.json`;
  evil.override(gun, file, v1);
  // tuf-js 5 persists a delegated role as trust/<gun>/targets%2Frelease.json but looks for
  // targets/release.json, so every lookup downloads the role again: the replay reaches a client
  // that has seen v2, and the bytes do not match the length and hash the snapshot lists.
  const seen = evil.requests.length;
  await assertRefusedEverywhere(t, rel, { errorClass: MismatchError, code: 'MISMATCH', message: /^targets\/release v1 of .* does not match the length and hash its parent role lists/ });
  t.true(evil.requested(gun).slice(seen).includes(file));
  evil.clearOverrides();
  await assertRecovers(t, rel, digestOf('d'));
});

test('replayed_old_delegated_role_version: targets/release v2 served as v3, by hash and by version', async (t) => {
  const { fx, rel, v2 } = await releaseFixture(t);
  const { sim, evil, gun } = fx;
  sim.addTarget('rel', digestOf('f'), 100, 'targets/release');
  sim.publishTargets('targets/release');
  const file = `3.${encodeURIComponent('targets/release')}.json`;
  // The server answers the request for v3 with the (validly signed) v2 it still has.
  evil.override(gun, file, v2);
  await assertRefusedEverywhere(t, rel, { kept: ['timestamp.json', 'snapshot.json'], errorClass: MismatchError, code: 'MISMATCH', message: /^targets\/release v2 of .* does not match the length and hash its parent role lists/ });
  // With the snapshot key: a snapshot that lists v3 with the length and hash of the v2 bytes.
  sim.snapshot.version += 1;
  sim.snapshot.meta['targets/release.json'] = describeFile(v2, 3);
  sim.commit('snapshot');
  sim.updateTimestamp();
  await assertRefusedEverywhere(t, rel, { kept: ['timestamp.json', 'snapshot.json'], errorClass: MismatchError, code: 'MISMATCH', message: /^targets\/release v2 of .* is not the version snapshot v\d+ lists \(v3\): mix-and-match/ });
  // list leaves the role out with a warning, as for any role that fails verification.
  const { puller, warnings } = warned(fx);
  t.deepEqual(
    (await puller.list(gun)).map((tag) => tag.tag),
    ['v1'],
  );
  t.regex(warnings.join('\n'), /^targets\/release of .* fails verification/);
  evil.clearOverrides();
  sim.updateSnapshot();
  await assertRecovers(t, rel, digestOf('f'));
});

/** targets delegates rel* to targets/a then targets/b (in that order); b signs rel-1 -> e. */
async function orderFixture(t: ExecutionContext, terminating: boolean) {
  const fx = await attackFixture(t);
  const { sim, gun } = fx;
  await sim.addDelegation('targets/a', { paths: [`${gun}:rel-*`] }, 'targets', { terminating });
  await sim.addDelegation('targets/b', { paths: [`${gun}:rel-*`] });
  sim.addTarget('rel-a', digestOf('c'), 100, 'targets/a');
  sim.addTarget('rel-1', digestOf('e'), 100, 'targets/b');
  sim.publishTargets('targets/a');
  sim.publishTargets('targets/b');
  sim.publishTargets();
  return { fx, rel: at(fx, 'rel-1') };
}

test('graph_traversal: a terminating delegation that lacks the tag ends the search before a later role', async (t) => {
  const { fx, rel } = await orderFixture(t, true);
  await assertRefusedEverywhere(t, rel, { kept: ['timestamp.json', 'snapshot.json', 'targets.json', 'targets%2Fa.json'], errorClass: NotSignedError, code: 'NOT_SIGNED', message: /:rel-1 is not signed/ });
  t.deepEqual(await listed(fx), [
    ['rel-a', digestOf('c'), 'targets/a'],
    ['v1', digestOf('a'), 'targets'],
  ]);
});

test('graph_traversal: a non-terminating delegation lets the search continue, pre-order', async (t) => {
  const { fx, rel } = await orderFixture(t, false);
  await assertRecovers(t, rel, digestOf('e'));
  t.deepEqual(await listed(fx), [
    ['rel-1', digestOf('e'), 'targets/b'],
    ['rel-a', digestOf('c'), 'targets/a'],
    ['v1', digestOf('a'), 'targets'],
  ]);
  // Pre-order: a role delegated by targets/a is searched before targets/b.
  const { sim, gun } = fx;
  await sim.addDelegation('targets/a/sub', { paths: [`${gun}:rel-*`] }, 'targets/a');
  sim.addTarget('rel-1', digestOf('f'), 100, 'targets/a/sub');
  sim.publishTargets('targets/a/sub');
  sim.publishTargets('targets/a');
  await assertRecovers(t, rel, digestOf('f'));
  const cli = await fx.cli(['resolve', rel.ref]);
  t.is(cli.stdout, `${gun}@${digestOf('f')}\n`, cli.stderr);
  t.deepEqual((await listed(fx)).find(([tag]) => tag === 'rel-1'), ['rel-1', digestOf('f'), 'targets/a/sub']);
});
