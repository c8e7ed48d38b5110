/**
 * Attack 12, malformed metadata: invalid JSON, wrong `_type`, missing fields, an unknown spec_version
 * major, non-canonical signatures, duplicate keys. Each is refused with a clear error (no crash), the
 * trusted state is unchanged, and honest metadata works again afterwards.
 * Several are valid-looking to tuf-js alone (an `expires` that is not a date never expires there;
 * garbage after a hex signature is ignored; JSON.parse keeps the last of duplicate keys): the
 * client's MetadataGuard refuses them before tuf-js sees them.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signBytes, signMetadata } from '@tagtrust/keys';
import { MalformedMetadataError, SignatureError, UntrustedRootError } from '@tagtrust/client';
import type { Metadata, TimestampSigned } from '@tagtrust/shared';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { assertRecovers, assertRefused, assertRefusedEverywhere, trustState } from './harness/attack.js';

/** Serves timestamp v+1 edited by `edit` (then signed by the timestamp key), and `post` applied to the text. */
function serveTimestamp(fx: AttackFixture, edit: (signed: Record<string, unknown>) => void, post: (text: string, metadata: Metadata) => string = (text) => text): void {
  const signed = structuredClone(fx.sim.timestamp) as unknown as Record<string, unknown>;
  signed.version = fx.sim.timestamp.version + 1;
  edit(signed);
  const metadata = signMetadata(signed as unknown as TimestampSigned, fx.sim.signers.get('timestamp')!);
  fx.evil.override(fx.gun, 'timestamp.json', post(JSON.stringify(metadata), metadata));
}

async function refusedAsMalformed(t: import('ava').ExecutionContext, fx: AttackFixture, message: RegExp): Promise<void> {
  await assertRefusedEverywhere(t, fx, { errorClass: MalformedMetadataError, code: 'MALFORMED_METADATA', message });
  fx.evil.clearOverrides();
  fx.sim.updateTimestamp();
  await assertRecovers(t, fx, digestOf('a'));
}

test('top_level_md_with_invalid_json', async (t) => {
  const fx = await attackFixture(t);
  fx.evil.override(fx.gun, 'timestamp.json', '{"signed": {"_type": "timestamp", ');
  await refusedAsMalformed(t, fx, /^timestamp of registry\.example\.com\/team\/app is not valid JSON \(.*\): refusing it/);
});

test('wrong_type: a snapshot served as timestamp.json', async (t) => {
  const fx = await attackFixture(t);
  fx.evil.override(fx.gun, 'timestamp.json', fx.sim.fetch(`${fx.sim.snapshot.version}.snapshot.json`)!);
  await refusedAsMalformed(t, fx, /^timestamp of .*: timestamp metadata is malformed: signed\._type must be "timestamp", got "snapshot"/);
});

test('missing_fields: a signed timestamp without expires', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, (signed) => delete signed.expires);
  await refusedAsMalformed(t, fx, /signed\.expires must be a string/);
});

test('unknown_spec_version_major', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, (signed) => (signed.spec_version = '2.0.0'));
  await refusedAsMalformed(t, fx, /signed\.spec_version "2\.0\.0" is not supported \(tagtrust reads TUF spec 1\.x\)/);
});

test('expires_not_a_date: tuf-js alone would treat it as never expiring', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, (signed) => (signed.expires = 'never'));
  await refusedAsMalformed(t, fx, /signed\.expires "never" is not a UTC time/);
});

test('version_not_an_integer', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, (signed) => (signed.version = String(signed.version)));
  await refusedAsMalformed(t, fx, /signed\.version must be an integer >= 1/);
});

test('non_canonical_signature_uppercase_hex', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, () => {}, (_text, metadata) => JSON.stringify({ ...metadata, signatures: metadata.signatures.map((s) => ({ ...s, sig: s.sig.toUpperCase() })) }));
  await refusedAsMalformed(t, fx, /signatures\[0\]\.sig must be lowercase hex/);
});

test('non_canonical_signature_trailing_garbage: tuf-js alone would ignore it', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, () => {}, (_text, metadata) => JSON.stringify({ ...metadata, signatures: metadata.signatures.map((s) => ({ ...s, sig: `${s.sig}zz` })) }));
  await refusedAsMalformed(t, fx, /signatures\[0\]\.sig must be lowercase hex/);
});

test('signature_over_non_canonical_json', async (t) => {
  const fx = await attackFixture(t);
  const signed = { ...fx.sim.timestamp, version: fx.sim.timestamp.version + 1 };
  // Signed over pretty-printed JSON instead of the canonical form the spec requires.
  const signature = signBytes(fx.sim.signers.get('timestamp')![0]!, Buffer.from(JSON.stringify(signed, null, 2)));
  fx.evil.override(fx.gun, 'timestamp.json', JSON.stringify({ signed, signatures: [signature] }));
  await assertRefusedEverywhere(t, fx, { errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /^timestamp v3 of .* \(0\/1\)/ });
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('malleable_ed25519_signature: S + L is refused', async (t) => {
  const fx = await attackFixture(t);
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  serveTimestamp(fx, () => {}, (_text, metadata) => {
    const sig = Buffer.from(metadata.signatures[0]!.sig, 'hex');
    let s = 0n;
    for (let i = 31; i >= 0; i -= 1) s = (s << 8n) | BigInt(sig[32 + i]!);
    s += L;
    for (let i = 0; i < 32; i += 1) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
    return JSON.stringify({ ...metadata, signatures: [{ ...metadata.signatures[0]!, sig: sig.toString('hex') }] });
  });
  await assertRefusedEverywhere(t, fx, { errorClass: SignatureError, code: 'BAD_SIGNATURE', message: /^timestamp v3 of .* \(0\/1\)/ });
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('a'));
});

test('duplicate_json_keys: a second "version" that other parsers would read', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, () => {}, (text) => text.replace('"signed":{', '"signed":{"version":99999,'));
  await refusedAsMalformed(t, fx, /is not valid JSON \(duplicate object key "version"\)/);
});

test('duplicate_signatures_by_one_key', async (t) => {
  const fx = await attackFixture(t);
  serveTimestamp(fx, () => {}, (_text, metadata) => JSON.stringify({ ...metadata, signatures: [...metadata.signatures, ...metadata.signatures] }));
  await refusedAsMalformed(t, fx, /signatures hold two signatures by key/);
});

test('duplicate_keys_in_root: one key listed under two key IDs to fake a threshold of 2', async (t) => {
  const fx = await attackFixture(t);
  const { sim } = fx;
  const [key] = sim.signers.get('targets')!;
  const fakeId = 'f'.repeat(64);
  sim.root.version += 1;
  sim.root.keys[fakeId] = key!.publicKey;
  sim.root.roles.targets = { keyids: [key!.keyId, fakeId], threshold: 2 };
  sim.publishRoot();
  await assertRefusedEverywhere(t, fx, {
    errorClass: MalformedMetadataError,
    code: 'MALFORMED_METADATA',
    message: /^root v2 of .* lists a key under ID ffffffff, which is not that key's ID .*: .*fake a signature threshold/,
  });
  delete sim.root.keys[fakeId];
  sim.root.roles.targets = { keyids: [key!.keyId], threshold: 1 };
  sim.publishRoot();
  await assertRecovers(t, fx, digestOf('a'));
});

test('first_root_duplicate_json_keys: trust on first use, --root-file and `trust pin` all use the strict parser', async (t) => {
  const fx = await attackFixture(t, { trusted: false });
  const honest = fx.sim.fetch('root.json')!.toString();
  // A second "version": JSON.parse keeps the last (the real one), other parsers the first.
  const doubled = honest.replace('"signed":{', '"signed":{"version":7,');
  fx.evil.override(fx.gun, 'root.json', doubled);
  await assertRefusedEverywhere(t, fx, { errorClass: UntrustedRootError, code: 'UNTRUSTED_ROOT', message: /is not a valid self-signed root: duplicate object key "version"/ });
  t.deepEqual(await trustState(fx.home, fx.gun), {}, 'no root is stored');
  const file = join(fx.home, 'root-doubled.json');
  await writeFile(file, doubled);
  await assertRefused(t, fx.puller({ rootFile: file }).resolve(fx.ref), UntrustedRootError, 'UNTRUSTED_ROOT', /duplicate object key "version"/);
  const pin = await fx.cli(['trust', 'pin', fx.gun, '--root-file', file]);
  t.not(pin.code, 0, pin.stderr);
  t.regex(pin.stderr, /duplicate object key "version"/);
  // The honest root, served with other whitespace, is stored as the verified object, not as served.
  fx.evil.override(fx.gun, 'root.json', JSON.stringify(JSON.parse(honest), null, 2));
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'));
  t.is((await trustState(fx.home, fx.gun))['root.json'], JSON.stringify(JSON.parse(honest)));
});
