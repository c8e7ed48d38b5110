/**
 * The publish fast path for large targets (server/src/targets-update.ts): entries equal to the current
 * version's skip the entry checks and reuse their canonical JSON for the signature check. These tests
 * show it computes exactly canonicalBytes, and that through a real server it refuses everything the
 * full checks refused: changed entries with bad names or digests, entries that differ from the
 * current ones by a byte or a type, and bytes changed after signing, whether or not the server
 * already holds the current targets' canonical form (the first publish after a start does not).
 */
import test from 'ava';
import { signMetadata } from '@tagtrust/keys';
import { buildTargets, canonicalBytes, expiresAfter } from '@tagtrust/shared';
import type { Metadata, TargetFileInfo, TargetsSigned } from '@tagtrust/shared';
import { jsonEqual, TargetsUpdate } from '../server/src/targets-update.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import type { HttpResult } from './helpers/metadata.js';
import { apiError, assertUnchanged, collectionKeys, latestMetadata, publishRaw, servedState } from './helpers/metadata.js';

const DAY = 24 * 3600_000;
const entry = (char: string, length = 100): TargetFileInfo => ({ length, hashes: { sha256: char.repeat(64) } });
/** A JSON round trip: what the server's JSON.parse of a request gives. */
const parsed = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

test('signedBytes is canonicalBytes through a chain of versions, with and without the previous canonical form', (t) => {
  const gun = 'registry.example.com/team/app';
  // Names whose order is easy to get wrong: quotes, backslashes, non-ASCII, astral vs. high BMP characters.
  const names = [`${gun}:v10`, `${gun}:v9`, `${gun}:V1`, `${gun}:a"b`, `${gun}:a\\b`, `${gun}:é`, `${gun}:\uffff`, `${gun}:\u{1f600}`, `${gun}:_`, `${gun}:-`];
  let targets: Record<string, TargetFileInfo> = {};
  names.forEach((name, i) => (targets[name] = i % 2 ? entry(String(i % 10)) : { hashes: { sha256: String(i % 10).repeat(64) }, length: 7, custom: { mediaType: 'x"y\\z', n: 3 } }));
  let current: Metadata<TargetsSigned> = parsed(signMetadata(buildTargets(1, expiresAfter(new Date(), DAY), targets), []));
  let canonical: ReturnType<TargetsUpdate['signedBytes']>['canonical'] | undefined;

  const steps: [string, (m: Record<string, TargetFileInfo>) => void][] = [
    ['nothing changed', () => {}],
    ['one entry added', (m) => (m[`${gun}:new`] = entry('c'))],
    ['one entry moved', (m) => (m[`${gun}:v9`] = entry('d'))],
    ['one entry removed', (m) => delete m[`${gun}:a"b`]],
    ['an entry with its keys in another order', (m) => (m[`${gun}:v10`] = { length: m[`${gun}:v10`]!.length, hashes: m[`${gun}:v10`]!.hashes, ...(m[`${gun}:v10`]!.custom ? { custom: m[`${gun}:v10`]!.custom } : {}) })],
    ['an entry differing by one character', (m) => (m[`${gun}:é`] = { ...m[`${gun}:é`]!, hashes: { sha256: `${'1'.repeat(63)}2` } })],
    ['added before the first and after the last name', (m) => Object.assign(m, { [`${gun}:!`]: entry('e'), [`${gun}:\u{10ffff}`]: entry('f') })],
    ['everything removed', (m) => Object.keys(m).forEach((k) => delete m[k])],
  ];
  for (const [what, change] of steps) {
    targets = parsed(current.signed.targets);
    change(targets);
    // Unknown top-level fields and delegations are covered by the signature too.
    const signed = parsed({ ...buildTargets(current.signed.version + 1, current.signed.expires, targets), x_note: { z: 1, a: [true, null, 'q'] } }) as TargetsSigned;
    for (const previous of [canonical, undefined]) {
      const update = new TargetsUpdate(current.signed.targets, previous);
      for (const [name, info] of Object.entries(signed.targets)) update.isUnchanged(name, info);
      t.deepEqual(update.signedBytes(signed).bytes, canonicalBytes(signed), `${what}${previous ? '' : ' (no previous canonical form)'}`);
    }
    const update = new TargetsUpdate(current.signed.targets, canonical);
    for (const [name, info] of Object.entries(signed.targets)) update.isUnchanged(name, info);
    canonical = update.signedBytes(signed).canonical;
    current = { signed, signatures: [] };
  }
});

test('a canonical form made for other targets is not used', (t) => {
  const gun = 'registry.example.com/team/app';
  const a = parsed({ [`${gun}:v1`]: entry('a') });
  const b = parsed({ [`${gun}:v1`]: entry('b') });
  const first = new TargetsUpdate(a);
  first.isUnchanged(`${gun}:v1`, a[`${gun}:v1`]);
  const { canonical } = first.signedBytes(buildTargets(2, '2030-01-01T00:00:00Z', a));
  // Same names, different entries: a form of `a` given for `b` must not leak `a`'s entry.
  const signed = buildTargets(3, '2030-01-01T00:00:00Z', parsed(b));
  const second = new TargetsUpdate(b, canonical);
  t.true(second.isUnchanged(`${gun}:v1`, signed.targets[`${gun}:v1`]));
  t.deepEqual(second.signedBytes(signed).bytes, canonicalBytes(signed));
});

test('only the entry object found unchanged reuses its canonical form', (t) => {
  const gun = 'registry.example.com/team/app';
  const a = parsed({ [`${gun}:v1`]: entry('a') });
  const first = new TargetsUpdate(a);
  const { canonical } = first.signedBytes(buildTargets(2, '2030-01-01T00:00:00Z', a));
  const update = new TargetsUpdate(a, canonical);
  t.true(update.isUnchanged(`${gun}:v1`, parsed(a[`${gun}:v1`])));
  // Bytes asked for another object under that name: made afresh, never the kept member.
  const other = buildTargets(3, '2030-01-01T00:00:00Z', parsed({ [`${gun}:v1`]: entry('b') }));
  t.false(update.has(`${gun}:v1`, other.targets[`${gun}:v1`]));
  t.deepEqual(update.signedBytes(other).bytes, canonicalBytes(other));
});

test('jsonEqual: equal JSON values only', (t) => {
  t.true(jsonEqual({ a: 1, b: { c: [1, 'x', null, true] } }, { b: { c: [1, 'x', null, true] }, a: 1 }));
  t.false(jsonEqual({ length: 100 }, { length: '100' }));
  t.false(jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  t.false(jsonEqual({ a: 1, b: 2 }, { a: 1 }));
  t.false(jsonEqual({ a: undefined }, { b: undefined }));
  t.false(jsonEqual([1, 2], { 0: 1, 1: 2 }));
  t.false(jsonEqual({ 0: 1 }, [1]));
  t.false(jsonEqual([1, 2], [1, 2, 3]));
  t.false(jsonEqual(null, {}));
  t.false(jsonEqual({ sha256: 'ab'.repeat(32) }, { sha256: `${'ab'.repeat(31)}aB` }));
});

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

function expectRefused(t: import('ava').ExecutionContext, result: HttpResult, code: string, what: string): void {
  t.is(result.status, 400, `${what}: ${result.text}`);
  if (result.status === 400) t.is(apiError(result).code, code as never, what);
}

test('a large collection: changed, byte-different and tampered entries are refused, before and after the server holds the canonical form', async (t) => {
  const gun = 'registry.example.com/fastpath/big';
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(gun);
  const keys = await collectionKeys(home, gun);
  const bulk: Record<string, TargetFileInfo> = {};
  for (let i = 0; i < 300; i += 1) bulk[`${gun}:v${i}`] = entry((i % 16).toString(16));
  const loaded = await publishRaw(server.url, gun, { targets: signMetadata(buildTargets(2, expiresAfter(new Date(), DAY), bulk), [keys.targets]) });
  t.is(loaded.status, 200, loaded.text);

  const refusals = async (round: string) => {
    const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, gun, 'targets');
    const version = current.signed.version + 1;
    const next = (change: (m: Record<string, unknown>) => void) => {
      const targets = parsed(current.signed.targets) as Record<string, unknown>;
      change(targets);
      return signMetadata(buildTargets(version, current.signed.expires, targets as Record<string, TargetFileInfo>), [keys.targets]);
    };
    const tampered = next(() => {});
    tampered.signed.targets[`${gun}:v7`] = entry('9');
    const float = next((m) => (m[`${gun}:v6`] = { ...entry('6'), custom: { n: 1 } }));
    float.signed.targets[`${gun}:v6`]!.custom = { n: 1.5 };
    const reordered = next(() => {});
    reordered.signed.targets[`${gun}:v8`] = { hashes: reordered.signed.targets[`${gun}:v8`]!.hashes, length: 100 };
    const cases: [string, Metadata<TargetsSigned>, string][] = [
      ['a new entry of another collection', next((m) => (m['registry.example.com/fastpath/other:v1'] = entry('a'))), 'SUBSTITUTION'],
      ['a new entry with an invalid tag', next((m) => (m[`${gun}:-bad`] = entry('a'))), 'SUBSTITUTION'],
      ['a known name whose digest is now uppercase', next((m) => (m[`${gun}:v3`] = { length: 100, hashes: { sha256: `${'3'.repeat(63)}A` } })), 'MALFORMED_METADATA'],
      ['a known name whose digest lost a byte', next((m) => (m[`${gun}:v3`] = { length: 100, hashes: { sha256: '3'.repeat(62) } })), 'INVALID_INPUT'],
      ['a known name whose length became a string', next((m) => (m[`${gun}:v4`] = { length: '100', hashes: { sha256: '4'.repeat(64) } })), 'MALFORMED_METADATA'],
      ['a known name whose length became 0', next((m) => (m[`${gun}:v4`] = entry('4', 0))), 'INVALID_INPUT'],
      ['a known name with an extra non-hex hash', next((m) => (m[`${gun}:v5`] = { length: 100, hashes: { sha256: '5'.repeat(64), sha512: 'zz' } })), 'MALFORMED_METADATA'],
      ['a known name with a float in custom', float, 'MALFORMED_METADATA'],
      ['an unchanged entry changed after signing', tampered, 'BAD_SIGNATURE'],
    ];
    const before = await servedState(server.url, gun);
    for (const [what, targets, code] of cases) expectRefused(t, await publishRaw(server.url, gun, { targets }), code, `${round}: ${what}`);
    await assertUnchanged(t, server.url, gun, before);
    // Control: reordering an entry's keys after signing changes no canonical byte; the publish is accepted
    // and a puller (tuf-js over its own canonical JSON) verifies what the server stored.
    const accepted = await publishRaw(server.url, gun, { targets: reordered });
    t.is(accepted.status, 200, `${round}: ${accepted.text}`);
    t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v8`)).digest, digestOf('8'));
  };

  // The publish after the bulk load starts from a canonical form the server kept from that load;
  // after a restart the server has none and parses the stored targets.
  await refusals('with the kept canonical form');
  await publisher.sign(`${gun}:one-more`, { digest: digestOf('b'), size: 10 });
  await refusals('after another publish');
  await server.restart();
  await refusals('after a restart');
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:one-more`)).digest, digestOf('b'));
});
