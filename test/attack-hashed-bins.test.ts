/**
 * Attacks through hashed bins (TAP 15 succinct_roles), on the client: a real binned collection is
 * captured from the real server and replayed by a MaliciousServer with one bin replaced. The
 * library (Puller.resolve) and `tagtrust resolve` must refuse it with the right error class and
 * exit code and keep their trusted state. The same attacks against the real server, which refuses
 * to store them, are in hashed-bins.test.ts.
 *
 * The snapshot lists bins by version only (docs/security-model.md, "Hashed bins"): the last test
 * pins down what that trades away, a holder of the bin key who can answer a client's requests.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { rm } from 'node:fs/promises';
import { generateKeyPair, signMetadata } from '@tagtrust/keys';
import { MismatchError, SignatureError, TooLargeError } from '@tagtrust/client';
import { binRoleForTarget } from '@tagtrust/shared';
import type { Metadata, TargetsSigned } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import { binKeyOf, digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { MaliciousServer } from './harness/malicious-server.js';
import { captureCollection, parseFile } from './harness/real-collection.js';
import { EXIT, assertRecovers, assertRefusedEverywhere } from './harness/attack.js';

const GUN = 'registry.example.com/team/app';
const LAYOUT = { bit_length: 4, name_prefix: 'bins' };

/**
 * A 16-bin collection on the real server whose puller trusts `v1`'s bin at v1; then the owner
 * re-signs v1, so the bin is at v2 and a refresh must download it. Served through a MaliciousServer
 * from a capture of that state.
 */
async function binnedFixture(t: ExecutionContext) {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const ownerHome = await tempHome();
  const owner = publisherFor(server.url, ownerHome);
  await owner.init(GUN);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 100 });
  await owner.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 100 });
  await owner.enableBins(GUN, { bins: 16 });
  const evil = await MaliciousServer.start();
  t.teardown(() => evil.close());
  const home = await tempHome();
  t.teardown(() => rm(home, { recursive: true, force: true }));
  const fx = {
    gun: GUN,
    ref: `${GUN}:v1`,
    home,
    bin: binRoleForTarget(LAYOUT, `${GUN}:v1`),
    puller: (options = {}) => pullerFor(evil.url, home, options),
    cli: (args: string[], env: Record<string, string> = {}) => runCli(args, { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: home, ...env }),
  };
  evil.serve(GUN, await captureCollection(server.url, GUN));
  t.is((await fx.puller().resolve(fx.ref)).digest, digestOf('a'));
  const firstBin = (await captureCollection(server.url, GUN)).get(`1.${fx.bin}.json`)!;
  await owner.sign(`${GUN}:v1`, { digest: digestOf('c'), size: 100 });
  const files = await captureCollection(server.url, GUN);
  evil.serve(GUN, files);
  return { ...fx, evil, files, firstBin, ownerHome };
}

/**
 * The other bins, which the lookup's fallback walk (every bin, in order) verifies and keeps while the
 * attacked one is refused; with 'before', only those the walk reaches before a download that aborts it.
 */
function otherBins(attacked: string, which: 'all' | 'before' = 'all'): string[] {
  const bins = Array.from({ length: 16 }, (_, i) => `bins-${i.toString(16)}`);
  const at = bins.indexOf(attacked);
  return bins.filter((_, i) => i !== at && (which === 'all' || i < at)).map((bin) => `roles/${bin}.json`);
}

test('replayed_bin_version: the bin at v1 served where the snapshot lists v2', async (t) => {
  const fx = await binnedFixture(t);
  fx.evil.override(GUN, `2.${fx.bin}.json`, fx.firstBin);
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json', ...otherBins(fx.bin)], errorClass: MismatchError, code: 'MISMATCH', message: new RegExp(`${fx.bin} v1 of .* is not the version snapshot v\\d+ lists \\(v2\\)`) });
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('c'));
});

test('bin_signed_by_a_non_bin_key: the current bin re-signed by another key', async (t) => {
  const fx = await binnedFixture(t);
  const bin = parseFile<Metadata<TargetsSigned>>(fx.files, `2.${fx.bin}.json`);
  const forged = signMetadata({ ...bin.signed, targets: { ...bin.signed.targets, [fx.ref]: { length: 100, hashes: { sha256: 'e'.repeat(64) } } } }, [await generateKeyPair()]);
  fx.evil.override(GUN, `2.${fx.bin}.json`, JSON.stringify(forged));
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json', ...otherBins(fx.bin)], errorClass: SignatureError, code: 'BAD_SIGNATURE', message: new RegExp(`${fx.bin}`) });
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('c'));
});

test('endless_bin: a bin the snapshot lists without a length is cut off at the targets size cap', async (t) => {
  const fx = await binnedFixture(t);
  fx.evil.override(GUN, `2.${fx.bin}.json`, { endless: true });
  await assertRefusedEverywhere(t, fx, { kept: ['timestamp.json', 'snapshot.json', ...otherBins(fx.bin, 'before')], errorClass: TooLargeError, code: 'TOO_LARGE' });
  t.is(EXIT.TOO_LARGE, 11);
  fx.evil.clearOverrides();
  await assertRecovers(t, fx, digestOf('c'));
});

test('bin_key_thief_with_network_position: another bin at the current version is accepted (the documented trade-off); names outside the bin are not', async (t) => {
  const fx = await binnedFixture(t);
  const binKey = await binKeyOf(fx.ownerHome);
  const bin = parseFile<Metadata<TargetsSigned>>(fx.files, `2.${fx.bin}.json`);
  let elsewhere = 0;
  while (binRoleForTarget(LAYOUT, `${GUN}:x${elsewhere}`) === fx.bin) elsewhere += 1;
  const evilEntry = { length: 100, hashes: { sha256: 'e'.repeat(64) } };
  const forged = signMetadata({ ...bin.signed, targets: { ...bin.signed.targets, [fx.ref]: evilEntry, [`${GUN}:x${elsewhere}`]: evilEntry } }, [binKey]);
  fx.evil.override(GUN, `2.${fx.bin}.json`, JSON.stringify(forged));
  // Same version, valid bin signature: without hashes in the snapshot the client cannot tell.
  t.is((await fx.puller().resolve(fx.ref)).digest, `sha256:${'e'.repeat(64)}`);
  // A name of another bin is never looked up in this one.
  await t.throwsAsync(fx.puller().resolve(`${GUN}:x${elsewhere}`), { name: 'NotSignedError' });
  t.false((await fx.puller().list(GUN)).some((tag) => tag.tag === `x${elsewhere}`));
});
