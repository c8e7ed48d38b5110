/**
 * A server (or a publisher's key) serves metadata a standard client cannot verify: a signed field
 * nested 3,000 deep, unsigned fields at the top level or inside a signature, impossible dates. The
 * client refuses each as malformed metadata (MalformedMetadataError, exit 26), never as a forgery or
 * a crash, and recovers once honest metadata is served.
 */
import { sign } from 'node:crypto';
import test from 'ava';
import { JSON_LIMITS, MalformedMetadataError } from '@tagtrust/client';
import type { KeyPair } from '@tagtrust/keys';
import { canonicalJson, describeFile } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

/** `{"a":{"a":...1...}}` nested 3,000 objects deep, as text (recursive serialisers overflow on it). */
const DEEP_TEXT = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;
const SENTINEL = 'deep-field-sentinel-7f3a';

/**
 * A metadata file whose `signed` has a field `deep` nested 3,000 deep, validly signed by `signers`:
 * the canonical bytes and the file are written with a sentinel string, which is then replaced by the
 * deep text (it sorts and serialises like any value).
 */
function withDeepField(signed: object, signers: KeyPair[]): Buffer {
  const withSentinel = { ...signed, deep: SENTINEL };
  const canonical = Buffer.from(canonicalJson(withSentinel).replace(`"${SENTINEL}"`, DEEP_TEXT));
  const signatures = signers.map((key) => ({ keyid: key.keyId, sig: sign(null, canonical, key.privateKey).toString('hex') }));
  return Buffer.from(JSON.stringify({ signed: withSentinel, signatures }).replace(`"${SENTINEL}"`, DEEP_TEXT));
}

/** Serves `file` with its JSON edited by `edit` (signatures unchanged: the edit is outside `signed`). */
function tamper(fx: AttackFixture, file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(fx.sim.fetch(file)!.toString('utf8')) as Record<string, unknown>;
  edit(json);
  fx.evil.override(fx.gun, file, Buffer.from(JSON.stringify(json)));
}

const malformed = (message: RegExp) => ({ errorClass: MalformedMetadataError, code: 'MALFORMED_METADATA' as const, message });

test('malformed_metadata_deep_signed_field: a signed field nested 3,000 deep is malformed, not a forgery', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.publishTargets();
  // Signed by the real targets key and listed by the snapshot with its exact length and hash.
  const version = fx.sim.targets.version;
  const deep = withDeepField(fx.sim.targets, fx.sim.signers.get('targets')!);
  fx.evil.override(fx.gun, `${version}.targets.json`, deep);
  fx.sim.snapshot.meta['targets.json'] = describeFile(deep, version);
  fx.sim.commit('snapshot');
  fx.sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, {
    ...malformed(new RegExp(`^targets v${version} of .* is not valid JSON \\(it nests objects and arrays deeper than ${JSON_LIMITS.depth} levels\\)`)),
    kept: ['timestamp.json', 'snapshot.json'],
  });
  fx.evil.clearOverrides();
  fx.sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
});

test('malformed_metadata_deep_root: a root with a signed field nested 3,000 deep is refused', async (t) => {
  const fx = await attackFixture(t);
  const version = fx.sim.root.version + 1;
  fx.evil.override(fx.gun, `${version}.root.json`, withDeepField({ ...fx.sim.root, version }, fx.sim.signers.get('root')!));
  await assertRefusedEverywhere(t, fx, malformed(/^root v2 of .* is not valid JSON \(it nests objects and arrays deeper than 32 levels\)/));
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('malformed_metadata_unsigned_top_level_field', async (t) => {
  const fx = await attackFixture(t);
  tamper(fx, 'timestamp.json', (json) => {
    json.junk = 'x'.repeat(1000);
  });
  await assertRefusedEverywhere(t, fx, malformed(/^timestamp of .*: timestamp metadata is malformed: the document has the unsigned field "junk"/));
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('malformed_metadata_unsigned_field_in_signature', async (t) => {
  const fx = await attackFixture(t);
  tamper(fx, 'timestamp.json', (json) => {
    (json.signatures as Record<string, unknown>[])[0]!.note = 'hi';
  });
  await assertRefusedEverywhere(t, fx, malformed(/^timestamp of .*: timestamp metadata is malformed: signatures\[0\] has the unsigned field "note"/));
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

for (const [name, expires] of [
  ['february_30', '2037-02-30T00:00:00Z'],
  ['hour_24', '2037-01-01T24:00:00Z'],
] as const) {
  test(`malformed_metadata_impossible_date_${name}`, async (t) => {
    const fx = await attackFixture(t);
    fx.sim.timestamp.version += 1;
    fx.sim.timestamp.expires = expires;
    fx.sim.commit('timestamp');
    await assertRefusedEverywhere(t, fx, malformed(new RegExp(`signed\\.expires "${expires}" is not a UTC time of a real date`)));
    fx.sim.updateTimestamp();
    await assertRecovers(t, fx, digestOf('a'));
  });
}
