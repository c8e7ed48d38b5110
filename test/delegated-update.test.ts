/**
 * The changed-entries fast path for delegated roles and hashed bins (server/src/delegations-verify.ts
 * with server/src/targets-update.ts): entries equal to the current version's of the same role skip
 * the schema and digest/length checks, and the signature input is assembled from the kept canonical
 * entries. These tests show the input is exactly canonicalBytes, and that through a real server a bin
 * refuses everything the full checks refused: changed entries with bad digests or types, entries that
 * differ by a byte or a type, names of another bin, tampering after signing, with the kept canonical
 * form and without it (after a restart); and that names are still checked against the delegation for
 * every name, unchanged or not: after a re-bin gives a bin name another meaning, and after a delegator
 * narrows an explicit role's paths.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { generateKeyPair, signMetadata } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { buildTargets, canonicalBytes, expiresAfter, targetNameHash } from '@tagtrust/shared';
import type { Metadata, TargetFileInfo, TargetsSigned } from '@tagtrust/shared';
import { verifyDelegatedRoles } from '../server/src/delegations-verify.js';
import type { VerifiedDelegatedRole } from '../server/src/delegations-verify.js';
import { TargetsUpdate } from '../server/src/targets-update.js';
import { binnedCollection } from './helpers/bins.js';
import { startTestServer } from './helpers/server.js';
import { publisherFor, pullerFor, tempHome } from './helpers/client.js';
import type { HttpResult } from './helpers/metadata.js';
import { apiError, assertUnchanged, collectionKeys, latestMetadata, publishRaw, servedState } from './helpers/metadata.js';

const GUN = 'registry.example.com/team/app';
const DAY = 24 * 3600_000;
const entry = (char: string, length = 100): TargetFileInfo => ({ length, hashes: { sha256: char.repeat(64) } });
/** A JSON round trip: what the server's JSON.parse of a request gives. */
const parsed = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
/** The first `count` names `${GUN}:t<i>` whose sha256 hex passes `test`. */
function namesWhere(test: (hash: string) => boolean, count: number, from = 0): string[] {
  const out: string[] = [];
  for (let i = from; out.length < count; i += 1) if (test(targetNameHash(`${GUN}:t${i}`))) out.push(`${GUN}:t${i}`);
  return out;
}
const inBin16 = (hex: string) => (hash: string) => hash[0] === hex;

function succinctTargets(binKey: KeyPair, bits: number, expires: string): Metadata<TargetsSigned> {
  const signed = {
    ...buildTargets(1, expires, {}),
    delegations: { keys: { [binKey.keyId]: binKey.publicKey }, succinct_roles: { keyids: [binKey.keyId], threshold: 1, bit_length: bits, name_prefix: 'bins' } },
  } as TargetsSigned;
  return { signed, signatures: [] };
}

test('a bin: the signature input is canonicalBytes across versions, with and without the kept canonical form; tampering is refused', async (t) => {
  const binKey = await generateKeyPair();
  const expires = expiresAfter(new Date(), DAY);
  const targets = succinctTargets(binKey, 4, expires);
  const names = namesWhere(inBin16('0'), 12);
  let map: Record<string, unknown> = {};
  names.forEach((name, i) => (map[name] = i % 3 ? entry((i % 10).toString()) : { hashes: { sha256: 'a'.repeat(64) }, length: 7, custom: { mediaType: 'x"y\\z', n: 3 } }));
  const sign = (version: number, m: Record<string, unknown>) => parsed(signMetadata({ ...buildTargets(version, expires, m as Record<string, TargetFileInfo>), x_note: { z: 1 } } as TargetsSigned, [binKey]));
  const verify = (metadata: unknown, current?: VerifiedDelegatedRole) =>
    verifyDelegatedRoles(
      new Map([['bins-0', metadata]]),
      { gun: GUN, targets, current: new Map(current ? [['bins-0', current.metadata]] : []), canonical: new Map(current ? [['bins-0', current.canonical]] : []) },
      new Date(),
    )[0]!;
  let current = verify(sign(1, map));
  const steps: [string, (m: Record<string, unknown>) => void][] = [
    ['nothing changed', () => {}],
    ['one entry added', (m) => (m[namesWhere(inBin16('0'), 1, 10_000)[0]!] = entry('c'))],
    ['one entry changed', (m) => (m[names[1]!] = entry('d'))],
    ['one entry removed', (m) => delete m[names[2]!]],
    ['an entry with its keys in another order', (m) => (m[names[3]!] = { hashes: (m[names[3]!] as TargetFileInfo).hashes, length: (m[names[3]!] as TargetFileInfo).length, custom: (m[names[3]!] as TargetFileInfo).custom })],
    ['everything removed', (m) => Object.keys(m).forEach((k) => delete m[k])],
  ];
  for (const [what, change] of steps) {
    map = parsed(current.metadata.signed.targets);
    change(map);
    const next = sign(current.metadata.signed.version + 1, map);
    // The input the verifier assembles, from the kept form and without it, is canonicalBytes.
    for (const kept of [current.canonical, undefined]) {
      const update = new TargetsUpdate(current.metadata.signed.targets, kept);
      for (const [name, info] of Object.entries(next.signed.targets)) update.isUnchanged(name, info);
      t.deepEqual(update.signedBytes(next.signed).bytes, canonicalBytes(next.signed), `${what}${kept ? '' : ' (no kept form)'}`);
    }
    // An unchanged entry changed after signing is refused with the kept form in use.
    if (names.some((name) => Object.hasOwn(next.signed.targets, name))) {
      const tampered = parsed(next);
      const name = names.find((n) => Object.hasOwn(tampered.signed.targets, n))!;
      tampered.signed.targets[name] = entry('9');
      t.throws(() => verify(tampered, current), { code: 'BAD_SIGNATURE' } as never, `${what}: tampered`);
    }
    current = verify(next, current);
    t.is(current.canonical.targets, current.metadata.signed.targets, what);
  }
});

test('an explicit role with delegations: the assembled signature input is canonicalBytes', (t) => {
  const targets = Object.fromEntries(namesWhere(() => true, 5).map((name, i) => [name, entry(i.toString())]));
  const delegations = { keys: {}, roles: [{ name: 'targets/ci/nested', keyids: [], threshold: 1, terminating: true, paths: [`${GUN}:dev-*`] }] };
  const v1 = parsed({ ...buildTargets(1, '2030-01-01T00:00:00Z', targets), delegations }) as TargetsSigned;
  const first = new TargetsUpdate(undefined);
  const { canonical } = first.signedBytes(v1);
  const v2 = parsed({ ...v1, version: 2, targets: { ...v1.targets, [`${GUN}:dev-1`]: entry('e') } }) as TargetsSigned;
  const update = new TargetsUpdate(v1.targets, canonical);
  for (const [name, info] of Object.entries(v2.targets)) update.isUnchanged(name, info);
  t.deepEqual(update.signedBytes(v2).bytes, canonicalBytes(v2));
});

function expectRefused(t: ExecutionContext, result: HttpResult, status: number, code: string, what: string, message?: RegExp): void {
  t.is(result.status, status, `${what}: ${result.text}`);
  if (result.status === status) {
    t.is(apiError(result).code, code as never, what);
    if (message) t.regex(apiError(result).message, message, what);
  }
}

test('a 16-bin collection: changed, byte-different, misplaced and tampered bin entries are refused, with the kept canonical form and after a restart', async (t) => {
  const { server, binKey } = await binnedCollection(t, GUN, 16);
  const names = namesWhere(inBin16('0'), 60);
  const [elsewhere] = namesWhere((h) => h[0] !== '0', 1);
  const expires = expiresAfter(new Date(), 30 * DAY);
  const bulk = Object.fromEntries(names.map((name, i) => [name, entry((i % 16).toString(16))]));
  const loaded = await publishRaw(server.url, GUN, { 'bins-0': signMetadata(buildTargets(1, expires, bulk), [binKey]) });
  t.is(loaded.status, 200, loaded.text);

  const refusals = async (round: string) => {
    const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'bins-0');
    const version = current.signed.version + 1;
    const next = (change: (m: Record<string, unknown>) => void) => {
      const m = parsed(current.signed.targets) as Record<string, unknown>;
      change(m);
      return signMetadata(buildTargets(version, current.signed.expires, m as Record<string, TargetFileInfo>), [binKey]);
    };
    const [a, b, c, d, e, f, g] = names;
    const tampered = next(() => {});
    tampered.signed.targets[a!] = entry('9');
    const float = next((m) => (m[b!] = { ...entry('6'), custom: { n: 1 } }));
    float.signed.targets[b!]!.custom = { n: 1.5 };
    const reordered = next(() => {});
    reordered.signed.targets[g!] = { hashes: reordered.signed.targets[g!]!.hashes, length: reordered.signed.targets[g!]!.length };
    const cases: [string, Metadata<TargetsSigned>, string][] = [
      ['a new name of another bin', next((m) => (m[elsewhere!] = entry('a'))), 'SUBSTITUTION'],
      ['a new name of another collection', next((m) => (m['registry.example.com/team/other:v1'] = entry('a'))), 'SUBSTITUTION'],
      ['a known name whose digest is now uppercase', next((m) => (m[c!] = { length: 100, hashes: { sha256: `${'3'.repeat(63)}A` } })), 'MALFORMED_METADATA'],
      ['a known name whose digest lost a byte', next((m) => (m[c!] = { length: 100, hashes: { sha256: '3'.repeat(62) } })), 'INVALID_INPUT'],
      ['a known name whose length became a string', next((m) => (m[d!] = { length: '100', hashes: (m[d!] as TargetFileInfo).hashes })), 'MALFORMED_METADATA'],
      ['a known name whose length became 0', next((m) => (m[d!] = { length: 0, hashes: (m[d!] as TargetFileInfo).hashes })), 'INVALID_INPUT'],
      ['a known name with an extra non-hex hash', next((m) => (m[e!] = { length: 100, hashes: { ...(m[e!] as TargetFileInfo).hashes, sha512: 'zz' } })), 'MALFORMED_METADATA'],
      ['a known name whose digest is now a number', next((m) => (m[f!] = { length: 100, hashes: { sha256: 7 } })), 'MALFORMED_METADATA'],
      ['a known name with a float in custom', float, 'MALFORMED_METADATA'],
      ['an unchanged entry changed after signing', tampered, 'BAD_SIGNATURE'],
    ];
    const before = await servedState(server.url, GUN);
    for (const [what, bin, code] of cases) expectRefused(t, await publishRaw(server.url, GUN, { 'bins-0': bin }), 400, code, `${round}: ${what}`);
    await assertUnchanged(t, server.url, GUN, before);
    t.is((await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'bins-0')).signed.version, version - 1, `${round}: bins-0 unchanged`);
    // Control: reordering an entry's keys after signing changes no canonical byte; accepted, and a
    // new puller verifies what the server stored.
    const accepted = await publishRaw(server.url, GUN, { 'bins-0': reordered });
    t.is(accepted.status, 200, `${round}: ${accepted.text}`);
    const [name, info] = Object.entries(reordered.signed.targets)[6]!;
    t.is((await pullerFor(server.url, await tempHome()).resolve(name)).digest, `sha256:${info.hashes.sha256}`, round);
  };

  await refusals('with the kept canonical form');
  await refusals('after another publish');
  await server.restart();
  await refusals('after a restart');
});

test('after a re-bin from 256 to 32 bins, bins-01 means other names: an unchanged name of the old bins-01 is refused', async (t) => {
  const { server, home, binKey } = await binnedCollection(t, GUN, 256);
  const keys = await collectionKeys(home, GUN);
  const expires = expiresAfter(new Date(), 30 * DAY);
  // bit_length 8: bins-01 holds names whose sha256 starts 01. bit_length 5: bins-01 is the 5 bits
  // 00001, first byte 08 to 0f; a name starting 01 is in bins-00 then.
  const [old] = namesWhere((h) => h.startsWith('01'), 1);
  const [fresh] = namesWhere((h) => /^0[89a-f]/.test(h), 1);
  const bin = (version: number, names: string[]) => signMetadata(buildTargets(version, expires, Object.fromEntries(names.map((n) => [n, entry('a')]))), [binKey]);
  t.is((await publishRaw(server.url, GUN, { 'bins-01': bin(1, [old!]) })).status, 200);
  t.is((await pullerFor(server.url, await tempHome()).resolve(old!)).digest, `sha256:${'a'.repeat(64)}`);

  const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'targets');
  const rebinned = signMetadata(
    { ...current.signed, version: current.signed.version + 1, delegations: { ...current.signed.delegations!, succinct_roles: { ...current.signed.delegations!.succinct_roles!, bit_length: 5 } } },
    [keys.targets],
  );
  const message = /bins-01 may not sign .*: it is outside the paths delegated to bins-01 \(names whose sha256 starts with the 5 bits of bin 1\)/;
  let before = await servedState(server.url, GUN);
  // In the same publish as the re-bin (the server holds bins-01 v1's canonical form from its publish).
  expectRefused(t, await publishRaw(server.url, GUN, { targets: rebinned, 'bins-01': bin(2, [old!, fresh!]) }), 400, 'SUBSTITUTION', 'with the re-bin', message);
  expectRefused(t, await publishRaw(server.url, GUN, { targets: rebinned, 'bins-01': bin(2, [old!]) }), 400, 'SUBSTITUTION', 'only the unchanged name, with the re-bin', message);
  await assertUnchanged(t, server.url, GUN, before);
  // After the re-bin was published alone.
  t.is((await publishRaw(server.url, GUN, { targets: rebinned })).status, 200);
  before = await servedState(server.url, GUN);
  expectRefused(t, await publishRaw(server.url, GUN, { 'bins-01': bin(2, [old!, fresh!]) }), 400, 'SUBSTITUTION', 'after the re-bin', message);
  expectRefused(t, await publishRaw(server.url, GUN, { 'bins-01': bin(2, [old!]) }), 400, 'SUBSTITUTION', 'only the unchanged name, after the re-bin', message);
  await assertUnchanged(t, server.url, GUN, before);
  // Control: the new meaning of bins-01 is accepted.
  t.is((await publishRaw(server.url, GUN, { 'bins-01': bin(2, [fresh!]) })).status, 200);
});

test('an explicit role whose paths its delegator narrows: its unchanged entries outside the new paths are refused', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  const keys = await collectionKeys(home, GUN);
  const ci = await generateKeyPair();
  const expires = expiresAfter(new Date(), 30 * DAY);
  const targetsWith = async (paths: string[]) => {
    const current = await latestMetadata<Metadata<TargetsSigned>>(server.url, GUN, 'targets');
    const delegations = { keys: { [ci.keyId]: ci.publicKey }, roles: [{ name: 'targets/ci', keyids: [ci.keyId], threshold: 1, terminating: true, paths }] };
    return signMetadata({ ...current.signed, version: current.signed.version + 1, delegations } as TargetsSigned, [keys.targets]);
  };
  const role = (version: number, tags: string[]) => signMetadata(buildTargets(version, expires, Object.fromEntries(tags.map((tag) => [`${GUN}:${tag}`, entry('b')]))), [ci]);
  t.is((await publishRaw(server.url, GUN, { targets: await targetsWith([`${GUN}:dev-*`]) })).status, 200);
  t.is((await publishRaw(server.url, GUN, { 'targets/ci': role(1, ['dev-1', 'dev-22']) })).status, 200);
  const narrowed = await targetsWith([`${GUN}:dev-2*`]);
  const before = await servedState(server.url, GUN);
  expectRefused(t, await publishRaw(server.url, GUN, { targets: narrowed, 'targets/ci': role(2, ['dev-1', 'dev-22', 'dev-23']) }), 400, 'SUBSTITUTION', 'narrowed in the same publish', /targets\/ci may not sign .*:dev-1: it is outside the paths/);
  await assertUnchanged(t, server.url, GUN, before);
  t.is((await publishRaw(server.url, GUN, { targets: narrowed })).status, 200);
  expectRefused(t, await publishRaw(server.url, GUN, { 'targets/ci': role(2, ['dev-1', 'dev-22']) }), 400, 'SUBSTITUTION', 'after the narrowing', /targets\/ci may not sign .*:dev-1: it is outside the paths/);
  t.is((await publishRaw(server.url, GUN, { 'targets/ci': role(2, ['dev-22', 'dev-23']) })).status, 200);
});
