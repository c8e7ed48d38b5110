/**
 * Weakening the immutability policy when the root threshold is spread over several machines
 * (docs/immutability.md, "Weakening needs the root"): `tagtrust root prepare --immutable` writes
 * root N+1 approving the weaker policy plus the targets re-signed with it; a second root key holder
 * signs it in their own home; `root publish` sends both. The real CLI, two homes, threshold 2.
 */
import test from 'ava';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, RootSigned } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { latestMetadata } from './helpers/metadata.js';

const GUN = 'registry.example.com/team/app';

test('root prepare --immutable: two root key holders in two homes approve a weaker policy, then the tag may move', async (t) => {
  t.timeout(120_000, 'a dozen CLI runs on a shared test machine');
  const server = await startTestServer();
  t.teardown(() => server.close());
  const [homeA, homeB] = await Promise.all([tempHome(), tempHome()]);
  const env = (home: string) => ({ TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  const init = await runCli(['init', GUN, '--root-keys', '2', '--root-threshold', '2'], env(homeA));
  t.is(init.code, 0, init.stderr);
  const keyB = (await latestMetadata<Metadata<RootSigned>>(server.url, GUN, 'root')).signed.roles.root.keyids[1]!;
  await mkdir(join(homeB, 'keys'), { recursive: true, mode: 0o700 });
  await rename(join(homeA, 'keys', `${keyB}.key`), join(homeB, 'keys', `${keyB}.key`));

  t.is((await runCli(['policy', 'set', GUN, '--immutable', 'v*', '--immutable', 'release-*'], env(homeA))).code, 0);
  const owner = publisherFor(server.url, homeA);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  const earlier = pullerFor(server.url, await tempHome());
  t.is((await earlier.resolve(`${GUN}:v1`)).digest, digestOf('a'));

  const alone = await runCli(['policy', 'set', GUN, '--immutable', 'release-*'], env(homeA));
  t.not(alone.code, 0, 'one of two root keys cannot approve the weaker policy');
  t.is(alone.stderr.trim().split('\n').length, 1, alone.stderr);
  t.regex(alone.stderr, /needs 2 root keys .* run `tagtrust root prepare registry\.example\.com\/team\/app --out FILE --immutable 'release-\*'`, have other root key holders run `tagtrust root sign FILE`/);

  const both = await runCli(['root', 'prepare', GUN, '--out', join(homeA, 'p.json'), '--immutable', 'x', '--no-immutable'], env(homeA));
  t.is(both.code, 2);
  t.regex(both.stderr, /give either --immutable PATTERN or --no-immutable, not both/);

  const file = join(homeA, 'weaker-policy.json');
  const prepare = await runCli(['root', 'prepare', GUN, '--out', file, '--immutable', 'release-*'], env(homeA));
  t.is(prepare.code, 0, prepare.stderr);
  t.regex(prepare.stdout, /^ {2}immutability policy: approves release-\* for targets v4\nWrote root v2 proposal to .*weaker-policy\.json: signatures: current root keys 1\/2, new root keys 1\/2\n$/);
  const early = await runCli(['root', 'publish', file], env(homeB));
  t.is(early.code, 22, early.stderr);

  const sign = await runCli(['root', 'sign', file], env(homeB));
  t.is(sign.code, 0, sign.stderr);
  t.regex(sign.stdout, /^Root v2 of registry\.example\.com\/team\/app: approve the immutability policy release-\*\n {2}immutability policy: approves release-\* for targets v4\nAdded signatures by [0-9a-f]{8}; .* \(ready to publish\)\n$/);
  const publish = await runCli(['root', 'publish', file], env(homeB));
  t.is(publish.code, 0, publish.stderr);
  t.regex(publish.stdout, /^Published root v2 of registry\.example\.com\/team\/app: root v2, targets v4, snapshot v\d+, timestamp v\d+\n$/);

  const show = await runCli(['policy', 'show', GUN], env(homeA));
  t.is(show.stdout.trim(), `Immutable tags of ${GUN}: release-*`);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('b'), size: 10 });
  t.is((await earlier.resolve(`${GUN}:v1`)).digest, digestOf('b'), 'a puller that saw v1 accepts the root-approved weakening');
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`)).digest, digestOf('b'));
});
