/**
 * Several tags in one publish (`tagtrust sign a:1 a:1.2 a:latest`, `--from-file`, Publisher.signMany):
 * flat, delegated and hashed-bin collections; all or nothing; one collection per publish.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImmutableTagError, SubstitutionError, UsageError, stageChanges } from '@tagtrust/client';
import { HostileRegistry } from './helpers/hostile-registry.js';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';


const GUN = 'registry.example.com/many/app';

test('library: signMany signs every tag in one publish of the top-level targets', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const result = await owner.signMany([
    { reference: `${GUN}:1`, digest: digestOf('a'), size: 10 },
    { reference: `${GUN}:1.2`, digest: digestOf('a'), size: 10 },
    { reference: `${GUN}:latest@${digestOf('b')}`, size: 20, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
  ]);
  t.deepEqual(result.roles, [{ role: 'targets', version: 2, attempts: 1 }]);
  t.deepEqual(
    result.tags.map((tag) => [tag.reference, tag.digest, tag.role, tag.targetsVersion]),
    [
      [`${GUN}:1`, digestOf('a'), 'targets', 2],
      [`${GUN}:1.2`, digestOf('a'), 'targets', 2],
      [`${GUN}:latest`, digestOf('b'), 'targets', 2],
    ],
  );
  const tags = await pullerFor(server.url, await tempHome()).list(GUN);
  t.deepEqual(
    tags.map((tag) => [tag.tag, tag.digest, tag.size]),
    [
      ['1', digestOf('a'), 10],
      ['1.2', digestOf('a'), 10],
      ['latest', digestOf('b'), 20],
    ],
  );
});

test('library: tags of two collections, or one tag twice, are refused before anything is signed', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const mixed = await t.throwsAsync(
    owner.signMany([
      { reference: `${GUN}:1`, digest: digestOf('a'), size: 1 },
      { reference: 'registry.example.com/other/app:1', digest: digestOf('a'), size: 1 },
    ]),
  );
  t.true(mixed instanceof UsageError);
  t.regex(mixed!.message, /are in different collections \(registry\.example\.com\/many\/app, registry\.example\.com\/other\/app\): one publish changes one collection/);
  const twice = await t.throwsAsync(
    owner.signMany([
      { reference: `${GUN}:1`, digest: digestOf('a'), size: 1 },
      { reference: `${GUN}:1`, digest: digestOf('b'), size: 1 },
    ]),
  );
  t.true(twice instanceof UsageError);
  t.regex(twice!.message, /:1 is given twice/);
  t.deepEqual(await pullerFor(server.url, await tempHome()).list(GUN), []);
});

test('delegated role: all tags in one publish; one tag outside the paths and nothing is published', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const ci = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const ciKey = await ci.generateKey('ci');
  await owner.addDelegation(GUN, 'targets/ci', { keys: [ciKey.publicKey], threshold: 1, paths: [`${GUN}:dev-*`] });

  const refused = await t.throwsAsync(
    ci.signMany(
      [
        { reference: `${GUN}:dev-1`, digest: digestOf('d'), size: 5 },
        { reference: `${GUN}:v1.0.0`, digest: digestOf('d'), size: 5 },
      ],
      { role: 'targets/ci' },
    ),
  );
  t.true(refused instanceof SubstitutionError);
  t.regex(refused!.message, /targets\/ci may not sign registry\.example\.com\/many\/app:v1\.0\.0: it is outside the paths delegated to targets\/ci/);
  const puller = pullerFor(server.url, await tempHome());
  t.deepEqual(await puller.list(GUN), [], 'dev-1 was not published either');

  const signed = await ci.signMany(
    [
      { reference: `${GUN}:dev-1`, digest: digestOf('d'), size: 5 },
      { reference: `${GUN}:dev-2`, digest: digestOf('e'), size: 6 },
    ],
    { role: 'targets/ci' },
  );
  t.deepEqual(signed.roles, [{ role: 'targets/ci', version: 1, attempts: 1 }]);
  t.deepEqual(
    (await puller.list(GUN)).map((tag) => [tag.tag, tag.signedBy]),
    [
      ['dev-1', 'targets/ci'],
      ['dev-2', 'targets/ci'],
    ],
  );
});

test('hashed bins: tags of several bins go out in one publish', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  await owner.enableBins(GUN, { bins: 4 });
  const references = Array.from({ length: 12 }, (_, i) => `${GUN}:t${i}`);
  const result = await owner.signMany(references.map((reference, i) => ({ reference, digest: digestOf('abcdef'[i % 6]!), size: 100 + i })));
  t.true(result.roles.length > 1, `12 tags land in several of 4 bins (got ${result.roles.map((r) => r.role).join(', ')})`);
  t.true(result.roles.every((role) => /^bins-[0-9a-f]$/.test(role.role) && role.version === 2 && role.attempts === 1));
  t.deepEqual(new Set(result.tags.map((tag) => tag.role)), new Set(result.roles.map((role) => role.role)));
  const tags = await pullerFor(server.url, await tempHome()).list(GUN);
  t.deepEqual(tags.map((tag) => tag.tag).sort(), references.map((r) => r.slice(GUN.length + 1)).sort());
  for (const tag of tags) t.is(tag.signedBy, result.tags.find((signed) => signed.reference === tag.reference)!.role);
});

test('all or nothing: the server refusing one tag (an immutable tag moved) publishes none of them', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  await owner.setImmutablePolicy(GUN, ['v*']);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 1 });
  const refused = await t.throwsAsync(
    owner.signMany([
      { reference: `${GUN}:new`, digest: digestOf('b'), size: 1 },
      { reference: `${GUN}:v1`, digest: digestOf('c'), size: 1 },
    ]),
  );
  t.true(refused instanceof ImmutableTagError, refused?.message);
  t.deepEqual(
    (await pullerFor(server.url, await tempHome()).list(GUN)).map((tag) => [tag.tag, tag.digest]),
    [['v1', digestOf('a')]],
  );
});

test('cli: sign a:1 a:1.2 a:latest in one command, --json lists every tag', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const env = ['--server', server.url, '--home', home];
  t.is((await runCli(['init', GUN, ...env])).code, 0);
  const text = await runCli(['sign', `${GUN}:1`, `${GUN}:1.2`, '--digest', digestOf('a'), '--size', '7', ...env]);
  t.is(text.code, 0, text.stderr);
  t.is(text.stdout, `Signed ${GUN}:1 -> ${digestOf('a')} (targets v2)\nSigned ${GUN}:1.2 -> ${digestOf('a')} (targets v2)\n`);
  const json = await runCli(['sign', `${GUN}:1`, `${GUN}:1.2`, `${GUN}:latest`, '--digest', digestOf('b'), '--size', '8', '--json', ...env]);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout), {
    gun: GUN,
    roles: [{ role: 'targets', version: 3, attempts: 1 }],
    attempts: 1,
    tags: ['1', '1.2', 'latest'].map((tag) => ({ reference: `${GUN}:${tag}`, digest: digestOf('b'), role: 'targets', targetsVersion: 3, attempts: 1 })),
  });
  const other = await runCli(['sign', `${GUN}:2`, 'registry.example.com/other/app:2', '--digest', digestOf('a'), '--size', '7', ...env]);
  t.is(other.code, 2);
  t.regex(other.stderr, /^tagtrust: .*are in different collections .*sign each collection's tags separately\n$/);
});

test('cli: sign --from-file FILE; bad lines are refused with file and line number', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const env = ['--server', server.url, '--home', home];
  t.is((await runCli(['init', GUN, ...env])).code, 0);
  const file = join(home, 'tags.txt');
  await writeFile(file, `# release 1.2\n${GUN}:1.2 ${digestOf('a')} 100\n\n${GUN}:1\t${digestOf('a')}\t100\n${GUN}:latest@${digestOf('b')} ${digestOf('b')} 200\n`);
  const signed = await runCli(['sign', '--from-file', file, '--json', ...env]);
  t.is(signed.code, 0, signed.stderr);
  const result = JSON.parse(signed.stdout) as { tags: { reference: string; digest: string }[] };
  t.deepEqual(
    result.tags.map((tag) => [tag.reference, tag.digest]),
    [
      [`${GUN}:1.2`, digestOf('a')],
      [`${GUN}:1`, digestOf('a')],
      [`${GUN}:latest`, digestOf('b')],
    ],
  );
  const refusals: [string, number, RegExp][] = [
    [`${GUN}:1 ${digestOf('a')}\n${GUN}:2 sha256:abc 3\n`, 3, /tags\.txt:2: invalid digest/],
    [`\n\n${GUN}:2 ${digestOf('a')} 3 extra\n`, 3, /tags\.txt:3: expected 2 or 3 fields, got 4/],
    [`${GUN}:2 ${digestOf('a')} -5\n`, 3, /tags\.txt:1: size "-5" is not a positive whole number/],
    [`${GUN}:2 ${digestOf('a')} 3\nregistry.example.com/other/app:2 ${digestOf('a')} 3\n`, 2, /are in different collections/],
    ['# nothing\n', 2, /names no tag/],
  ];
  for (const [content, code, message] of refusals) {
    await writeFile(file, content);
    const refused = await runCli(['sign', '--from-file', file, ...env]);
    t.is(refused.code, code, content);
    t.regex(refused.stderr, message);
    t.is(refused.stderr.split('\n').length, 2, 'one line');
  }
  const both = await runCli(['sign', `${GUN}:3`, '--from-file', file, ...env]);
  t.is(both.code, 2);
  t.regex(both.stderr, /--from-file lists the tags with their digests and sizes/);
  t.is((await pullerFor(server.url, await tempHome()).list(GUN)).length, 3, 'no refused list signed anything');
});

test('a role needing two signatures: several tags become one pending change; mixing it with another role is refused', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const aliceHome = await tempHome();
  const alice = publisherFor(server.url, aliceHome);
  const bob = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const keys = [await alice.generateKey('alice'), await bob.generateKey('bob')];
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*', 'latest'] });

  const proposed = await alice.signMany(
    [
      { reference: `${GUN}:v1`, digest: digestOf('1'), size: 10 },
      { reference: `${GUN}:latest`, digest: digestOf('1'), size: 10 },
    ],
    { role: 'targets/release' },
  );
  t.is(proposed.roles.length, 1);
  const id = proposed.roles[0]!.pending?.id;
  t.truthy(id);
  t.deepEqual(proposed.tags.map((tag) => tag.pending?.id), [id, id], 'one pending change holds both tags');
  const [view] = await bob.listPending(GUN);
  t.deepEqual(view!.tags.map((tag) => [tag.kind, tag.reference]), [
    ['add', `${GUN}:latest`],
    ['add', `${GUN}:v1`],
  ]);
  t.true((await bob.approve(GUN, 'targets/release')).published);
  t.deepEqual((await pullerFor(server.url, await tempHome()).list(GUN)).map((tag) => tag.tag), ['latest', 'v1']);

  await stageChanges(aliceHome, GUN, [
    { action: 'sign', tag: 'v2', digest: digestOf('2'), size: 10, role: 'targets/release' },
    { action: 'sign', tag: 'dev', digest: digestOf('2'), size: 10 },
  ]);
  const mixed = await t.throwsAsync(alice.publishStaged(GUN));
  t.true(mixed instanceof UsageError);
  t.regex(mixed!.message, /this change re-signs targets\/release, targets at once, but targets\/release needs 2 signatures/);
  t.deepEqual(await bob.listPending(GUN), [], 'nothing proposed');
});

test('cli: --from-file lines without a size are read from the registry by digest, each digest once; a forged manifest signs nothing', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const registry = await HostileRegistry.start();
  t.teardown(() => registry.close());
  const home = await tempHome();
  t.is((await runCli(['init', GUN, '--server', server.url, '--home', home])).code, 0);
  const env = ['--server', server.url, '--home', home, '--registry', registry.url];
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  registry.replies.set(`/v2/many/app/manifests/${digest}`, { bytes: manifest });
  const file = join(home, 'tags.txt');
  await writeFile(file, `${GUN}:a ${digest}\n${GUN}:b ${digest}\n${GUN}:c ${digestOf('c')} 30\n`);
  const signed = await runCli(['sign', '--from-file', file, '--json', ...env]);
  t.is(signed.code, 0, signed.stderr);
  t.regex(signed.stderr, new RegExp(`manifests/${digest}: ${manifest.length} bytes`), 'the registry read is noted on stderr, not in the JSON');
  t.is(registry.requests.filter((r) => r.path.includes('/manifests/')).length, 1, 'one read per digest');
  const tags = await pullerFor(server.url, await tempHome()).list(GUN);
  t.deepEqual(
    tags.map((tag) => [tag.tag, tag.digest, tag.size]),
    [
      ['a', digest, manifest.length],
      ['b', digest, manifest.length],
      ['c', digestOf('c'), 30],
    ],
  );

  registry.replies.set(`/v2/many/app/manifests/${digestOf('d')}`, { bytes: manifest });
  await writeFile(file, `${GUN}:d ${digestOf('d')} 40\n${GUN}:e ${digestOf('d')}\n`);
  const forged = await runCli(['sign', '--from-file', file, ...env]);
  t.is(forged.code, 23, forged.stderr);
  t.is((await pullerFor(server.url, await tempHome()).list(GUN)).length, 3, 'd was not signed either');
});
