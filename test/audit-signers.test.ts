/**
 * Every tag change is in the audit trail, whichever role signed it (issue 15): tags signed through a
 * delegated role and through hashed bins appear in `tagtrust history` with the signing role and the
 * keys that made its threshold.
 */
import test from 'ava';
import { readHistory } from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/app';

test('tags signed through a delegated role are recorded with the role and its key, and shown by history', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  const ci = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const ciKey = await ci.generateKey('ci');
  await owner.addDelegation(GUN, 'targets/ci', { keys: [ciKey.publicKey], paths: ['dev-*'] });
  await ci.sign(`${GUN}:dev-1`, { digest: digestOf('a'), size: 1 }, { role: 'targets/ci' });
  await ci.sign(`${GUN}:dev-1`, { digest: digestOf('b'), size: 1 }, { role: 'targets/ci' });
  await ci.unsign(`${GUN}:dev-1`, { role: 'targets/ci' });

  const history = await readHistory(`${GUN}:dev-1`, { server: server.url, home });
  t.deepEqual(
    history.map((r) => r.tags),
    [
      [{ tag: 'dev-1', change: 'added', to: digestOf('a'), role: 'targets/ci', keyIds: [ciKey.keyId] }],
      [{ tag: 'dev-1', change: 'moved', from: digestOf('a'), to: digestOf('b'), role: 'targets/ci', keyIds: [ciKey.keyId] }],
      [{ tag: 'dev-1', change: 'removed', from: digestOf('b'), role: 'targets/ci', keyIds: [ciKey.keyId] }],
    ],
  );
  const cli = await runCli(['history', `${GUN}:dev-1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(cli.code, 0, cli.stderr);
  const lines = cli.stdout.trim().split('\n');
  t.is(lines.length, 3);
  t.regex(lines[0]!, new RegExp(`publish targets/ci v1, snapshot v3, timestamp v3; dev-1 added sha256:a{64} by targets/ci \\(${ciKey.keyId.slice(0, 8)}\\)$`));
  t.regex(lines[2]!, new RegExp(`dev-1 removed \\(was sha256:b{64}\\) by targets/ci \\(${ciKey.keyId.slice(0, 8)}\\)$`));
});

// Moving tags into bins records no tag change: test/hashed-bins.test.ts ("history: moving tags into bins ...").
test('tags signed into hashed bins are recorded with the bin and its key', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(GUN);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  await owner.enableBins(GUN, { bins: 16 });
  await owner.sign(`${GUN}:v2`, { digest: digestOf('c'), size: 10 });

  const v2 = await readHistory(`${GUN}:v2`, { server: server.url, home });
  t.is(v2.length, 1);
  const change = v2[0]!.tags![0]!;
  t.regex(change.role!, /^bins-[0-9a-f]$/);
  t.true(Object.keys(v2[0]!.versions!).includes(change.role!));
  t.is(change.keyIds!.length, 1);
  t.regex(change.keyIds![0]!, /^[0-9a-f]{64}$/);

  const cli = await runCli(['history', `${GUN}:v2`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, new RegExp(`v2 added sha256:c{64} by ${change.role} \\(${change.keyIds![0]!.slice(0, 8)}\\)\\n$`));
});
