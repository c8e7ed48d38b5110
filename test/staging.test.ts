/**
 * Staged changes (Notary's changelist): `sign|unsign --stage`, `status`, `reset`, `publish`,
 * through the real CLI against a real server.
 */
import test from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { changelistPath, readChangelist, stageChanges } from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import { digestOf, pullerFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/staged/app';

test('stage signs and a removal without server or key, show them, publish them in one publish', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const env = ['--server', server.url, '--home', home];
  t.is((await runCli(['init', GUN, ...env])).code, 0);
  t.is((await runCli(['sign', `${GUN}:old`, '--digest', digestOf('0'), '--size', '1', ...env])).code, 0);

  // No server URL, no token, no passphrase: staging is local.
  const offline = { TAGTRUST_TOKEN: undefined, TAGTRUST_TARGETS_PASSPHRASE: undefined, TAGTRUST_ROOT_PASSPHRASE: undefined };
  const staged = await runCli(['sign', `${GUN}:1`, `${GUN}:1.2`, '--digest', digestOf('a'), '--size', '10', '--stage', '--home', home], offline);
  t.is(staged.code, 0, staged.stderr);
  t.is(staged.stdout, `Staged ${GUN}:1 -> ${digestOf('a')}\nStaged ${GUN}:1.2 -> ${digestOf('a')}\n${GUN} has 2 staged changes: publish with \`tagtrust publish ${GUN}\`\n`);
  const removal = await runCli(['unsign', `${GUN}:old`, '--stage', '--json', '--home', home], offline);
  t.deepEqual(JSON.parse(removal.stdout), { gun: GUN, staged: [{ reference: `${GUN}:old`, action: 'unsign' }], total: 3 });
  // A later change of a tag replaces the staged one.
  t.is((await runCli(['sign', `${GUN}:1.2`, '--digest', digestOf('b'), '--size', '20', '--stage', '--home', home], offline)).code, 0);
  const file = changelistPath(home, GUN);
  t.is((await stat(file)).mode & 0o777, 0o600);

  const status = await runCli(['status', '--home', home], offline);
  t.is(status.code, 0, status.stderr);
  t.is(
    status.stdout,
    [
      `${GUN}: 3 staged changes, publish with \`tagtrust publish ${GUN}\`, drop with \`tagtrust reset ${GUN}\``,
      `  sign   1 -> ${digestOf('a')} (10 bytes)`,
      '  unsign old',
      `  sign   1.2 -> ${digestOf('b')} (20 bytes)`,
      '',
    ].join('\n'),
  );
  const json = JSON.parse((await runCli(['status', GUN, '--json', '--home', home], offline)).stdout) as { collections: { gun: string; changes: Record<string, unknown>[] }[] };
  t.is(json.collections.length, 1);
  t.like(json.collections[0]!.changes, [
    { action: 'sign', tag: '1', digest: digestOf('a'), size: 10 },
    { action: 'unsign', tag: 'old' },
    { action: 'sign', tag: '1.2', digest: digestOf('b'), size: 20 },
  ]);
  t.true(json.collections[0]!.changes.every((c) => /^[0-9a-f]{16}$/.test(String(c.id)) && !Number.isNaN(Date.parse(String(c.staged)))));

  const published = await runCli(['publish', GUN, '--json', ...env]);
  t.is(published.code, 0, published.stderr);
  const result = JSON.parse(published.stdout) as { roles: unknown[]; tags: unknown[]; published: unknown[] };
  t.deepEqual(result.roles, [{ role: 'targets', version: 3, attempts: 1 }], 'one publish: targets v2 -> v3');
  t.deepEqual(result.tags, [
    { reference: `${GUN}:1`, digest: digestOf('a'), role: 'targets', targetsVersion: 3, attempts: 1 },
    { reference: `${GUN}:old`, role: 'targets', targetsVersion: 3, attempts: 1 },
    { reference: `${GUN}:1.2`, digest: digestOf('b'), role: 'targets', targetsVersion: 3, attempts: 1 },
  ]);
  t.is(result.published.length, 3);
  await t.throwsAsync(stat(file), { code: 'ENOENT' }, 'published changes are dropped');
  t.deepEqual(
    (await pullerFor(server.url, await tempHome()).list(GUN)).map((tag) => [tag.tag, tag.digest]),
    [
      ['1', digestOf('a')],
      ['1.2', digestOf('b')],
    ],
  );
  const nothing = await runCli(['publish', GUN, ...env]);
  t.is(nothing.code, 0);
  t.regex(nothing.stdout, /^Nothing staged for registry\.example\.com\/staged\/app/);
  t.is((await runCli(['status', GUN, '--home', home], offline)).stdout, `No staged changes for ${GUN}.\n`);
});

test('reset drops chosen tags or all; an unknown tag is refused and drops nothing', async (t) => {
  const home = await tempHome();
  const stage = (tag: string) => runCli(['sign', `${GUN}:${tag}`, '--digest', digestOf('c'), '--size', '3', '--stage', '--home', home]);
  for (const tag of ['a', 'b', 'c']) t.is((await stage(tag)).code, 0);
  const unknown = await runCli(['reset', GUN, '--tag', 'a', '--tag', 'zzz', '--home', home]);
  t.is(unknown.code, 5);
  t.is(unknown.stderr, `tagtrust: ${GUN}:zzz has no staged change: \`tagtrust status ${GUN}\` lists them\n`);
  const dropped = await runCli(['reset', GUN, '--tag', 'a', '--tag', 'c', '--json', '--home', home]);
  t.is(dropped.code, 0, dropped.stderr);
  const body = JSON.parse(dropped.stdout) as { gun: string; dropped: { tag: string }[] };
  t.deepEqual([body.gun, body.dropped.map((c) => c.tag)], [GUN, ['a', 'c']]);
  const left = JSON.parse((await runCli(['status', GUN, '--json', '--home', home])).stdout) as { collections: { changes: { tag: string }[] }[] };
  t.deepEqual(left.collections[0]!.changes.map((c) => c.tag), ['b']);
  const usage = await runCli(['reset', GUN, '--home', home]);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /give --tag TAG \(repeatable\) or --all/);
  const all = await runCli(['reset', GUN, '--all', '--home', home]);
  t.is(all.stdout, `Dropped 1 staged change of ${GUN}: b\n`);
  t.is((await runCli(['status', '--json', '--home', home])).stdout.trim(), JSON.stringify({ collections: [] }, null, 2));
});

test('publish keeps every staged change when the server is gone, and publishes them once it answers', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  t.is((await runCli(['init', GUN, '--server', server.url, '--home', home])).code, 0);
  t.is((await runCli(['sign', `${GUN}:1`, `${GUN}:2`, '--digest', digestOf('d'), '--size', '4', '--stage', '--home', home])).code, 0);
  const before = await readFile(changelistPath(home, GUN), 'utf8');
  const gone = await startTestServer();
  const goneUrl = gone.url;
  await gone.close();
  const failed = await runCli(['publish', GUN, '--server', goneUrl, '--home', home, '--timeout', '5']);
  t.is(failed.code, 9, failed.stderr);
  t.is(failed.stderr.split('\n').length, 2, 'one line');
  t.is(await readFile(changelistPath(home, GUN), 'utf8'), before, 'nothing dropped');
  const published = await runCli(['publish', GUN, '--server', server.url, '--home', home]);
  t.is(published.code, 0, published.stderr);
  t.is(published.stdout, `Signed ${GUN}:1 -> ${digestOf('d')} (targets v2)\nSigned ${GUN}:2 -> ${digestOf('d')} (targets v2)\n`);
});

test('a staged change the server refuses stays staged; a corrupt changelist is refused with the way out', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const env = ['--server', server.url, '--home', home];
  t.is((await runCli(['init', GUN, ...env])).code, 0);
  t.is((await runCli(['sign', `${GUN}:new`, '--digest', digestOf('e'), '--size', '5', '--stage', '--home', home])).code, 0);
  t.is((await runCli(['unsign', `${GUN}:never-signed`, '--stage', '--home', home])).code, 0);
  const refused = await runCli(['publish', GUN, ...env]);
  t.is(refused.code, 6);
  t.regex(refused.stderr, /never-signed is not signed by targets, so there is nothing to remove/);
  t.deepEqual(await pullerFor(server.url, await tempHome()).list(GUN), [], 'all or nothing: new was not published');
  t.is((JSON.parse((await runCli(['status', GUN, '--json', '--home', home])).stdout) as { collections: { changes: unknown[] }[] }).collections[0]!.changes.length, 2);

  await writeFile(changelistPath(home, GUN), '{"format":"tagtrust-changelist/1","gun":"registry.example.com/staged/app","changes":[{"id":"0000000000000000","staged":"x","action":"sign","tag":"t","digest":"sha256:zz","size":1}]}');
  const corrupt = await runCli(['status', GUN, '--home', home]);
  t.is(corrupt.code, 3);
  t.regex(corrupt.stderr, /is not a tagtrust changelist \(.*\): drop it with `tagtrust reset registry\.example\.com\/staged\/app --all`\n$/);
  t.is((await runCli(['publish', GUN, ...env])).code, 3, 'never publishes a half-read changelist');
  t.is((await runCli(['reset', GUN, '--all', '--home', home])).code, 0);
  t.is((await runCli(['status', GUN, '--home', home])).code, 0);
});

test('commands staging at once lose nothing (the changelist lock)', async (t) => {
  const home = await tempHome();
  const tags = Array.from({ length: 12 }, (_, i) => `p${i}`);
  await Promise.all(tags.map((tag) => stageChanges(home, GUN, [{ action: 'sign', tag, digest: digestOf('f'), size: 1 }])));
  t.deepEqual((await readChangelist(home, GUN)).map((c) => c.tag).sort(), [...tags].sort());
  const cli = await Promise.all(['q1', 'q2', 'q3'].map((tag) => runCli(['unsign', `${GUN}:${tag}`, '--stage', '--home', home])));
  t.deepEqual(cli.map((r) => r.code), [0, 0, 0]);
  t.is((await readChangelist(home, GUN)).length, 15);
});
