/**
 * Attack 13, wrong content: the registry serves a manifest whose bytes do not hash to the signed
 * digest. `Puller.verify` / `verifyManifestBytes` and `tagtrust verify <ref> --manifest FILE` refuse it.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MismatchError, verifyManifestBytes } from '@tagtrust/client';
import { runCli, tempHome } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import { attackFixture } from './harness/fixture.js';
import { EXIT, assertRefused, trustState } from './harness/attack.js';

const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
const evilManifest = Buffer.from(manifest.toString().replace('"layers":[]', '"layers":[{"digest":"sha256:evil"}]'));
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

test('wrong_content: a manifest that does not hash to the signed digest', async (t) => {
  const fx = await attackFixture(t);
  fx.sim.addTarget('v1', sha256(manifest), manifest.length);
  fx.sim.publishTargets();
  const good = await fx.puller().verify(fx.ref, manifest);
  t.is(good.digest, sha256(manifest));
  const before = await trustState(fx.home, fx.gun);
  const err = await assertRefused(t, fx.puller().verify(fx.ref, evilManifest), MismatchError, 'MISMATCH');
  t.is(
    err.message,
    `the manifest you have (${sha256(evilManifest)}, ${evilManifest.length} bytes) is not what ${fx.ref} is signed for (${sha256(manifest)}, ${manifest.length} bytes): ` +
      'do not use it; the registry, a proxy or a cache served other content',
  );
  // Same digest, other length (a truncated or padded download) is refused too.
  t.throws(() => verifyManifestBytes({ reference: fx.ref, digest: sha256(manifest), size: manifest.length + 1 }, manifest), { instanceOf: MismatchError });
  t.deepEqual(await trustState(fx.home, fx.gun), before);

  const dir = await tempHome();
  await writeFile(join(dir, 'good.json'), manifest);
  await writeFile(join(dir, 'evil.json'), evilManifest);
  const ok = await fx.cli(['verify', fx.ref, '--manifest', join(dir, 'good.json')]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, `Verified ${join(dir, 'good.json')}: ${fx.ref} -> ${sha256(manifest)}\n`);
  const bad = await fx.cli(['verify', fx.ref, '--manifest', join(dir, 'evil.json')]);
  t.is(bad.code, EXIT.MISMATCH, bad.stderr);
  t.regex(bad.stderr, /^tagtrust: the manifest you have \(sha256:\w+, \d+ bytes\) is not what registry\.example\.com\/team\/app:v1 is signed for/);
  const missing = await fx.cli(['verify', fx.ref]);
  t.is(missing.code, 3);
  t.regex(missing.stderr, /verify needs --manifest FILE/);
});

test('wrong_content_with_real_server: sign --manifest, verify --manifest', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const gun = 'registry.example.com/team/app';
  const dir = await tempHome();
  await writeFile(join(dir, 'manifest.json'), manifest);
  await writeFile(join(dir, 'evil.json'), evilManifest);
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: dir };
  t.is((await runCli(['init', gun], env)).code, 0);
  t.is((await runCli(['sign', `${gun}:v1`, '--manifest', join(dir, 'manifest.json')], env)).code, 0);
  const pullEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  t.is((await runCli(['verify', `${gun}:v1`, '--manifest', join(dir, 'manifest.json')], pullEnv)).code, 0);
  t.is((await runCli(['verify', `${gun}:v1`, '--manifest', join(dir, 'evil.json')], pullEnv)).code, EXIT.MISMATCH);
});
