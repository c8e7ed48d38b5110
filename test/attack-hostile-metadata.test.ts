/**
 * A server (or a publisher's key) serves metadata a standard client cannot verify: a signed field
 * nested 1,000 deep, unsigned fields at the top level or inside a signature, impossible dates. The
 * client refuses each as malformed metadata (MalformedMetadataError, exit 26), never as a forgery or
 * a crash, and recovers once honest metadata is served.
 */
import test from 'ava';
import { JSON_LIMITS, MalformedMetadataError } from '@tagtrust/client';
import { signMetadata } from '@tagtrust/keys';
import { describeFile } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

/**
 * Deep enough to be refused 30 times over; 3,000 (refused at publish, attack-hostile-input.test.ts)
 * overflows the recursive canonical JSON this test signs with, as it did tuf-js's.
 */
const DEEP = 1000;

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}

/** Serves `file` with its JSON edited by `edit` (signatures unchanged: the edit is outside `signed`). */
function tamper(fx: AttackFixture, file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(fx.sim.fetch(file)!.toString('utf8')) as Record<string, unknown>;
  edit(json);
  fx.evil.override(fx.gun, file, Buffer.from(JSON.stringify(json)));
}

const malformed = (message: RegExp) => ({ errorClass: MalformedMetadataError, code: 'MALFORMED_METADATA' as const, message });

test('malformed_metadata_deep_signed_field: a signed field nested 1,000 deep is malformed, not a forgery', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.publishTargets();
  // Signed by the real targets key and listed by the snapshot with its exact length and hash.
  const version = fx.sim.targets.version;
  const deep = Buffer.from(JSON.stringify(signMetadata({ ...fx.sim.targets, deep: nested(DEEP) }, fx.sim.signers.get('targets')!)));
  fx.evil.override(fx.gun, `${version}.targets.json`, deep);
  fx.sim.snapshot.meta['targets.json'] = describeFile(deep, version);
  fx.sim.commit('snapshot');
  fx.sim.updateTimestamp();
  await assertRefusedEverywhere(t, fx, malformed(new RegExp(`^targets v${version} of .* is not valid JSON \\(it nests objects and arrays deeper than ${JSON_LIMITS.depth} levels\\)`)));
  fx.evil.clearOverrides();
  fx.sim.publishTargets();
  await assertRecovers(t, fx, digestOf('a'));
});

test('malformed_metadata_deep_root: a root with a signed field nested 1,000 deep is refused', async (t) => {
  const fx = await attackFixture(t);
  const version = fx.sim.root.version + 1;
  const signed = { ...fx.sim.root, version, deep: nested(DEEP) };
  fx.evil.override(fx.gun, `${version}.root.json`, Buffer.from(JSON.stringify(signMetadata(signed, fx.sim.signers.get('root')!))));
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
