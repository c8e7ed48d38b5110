/**
 * A per-tag "signed by" view (issue 15): `tagtrust list` prints a SIGNED BY column, and `--json` has
 * the role (signedBy) and the key IDs whose signatures made its threshold (keyIds), for tags of the
 * top-level targets, a delegated role and a 2-of-2 role.
 */
import test from 'ava';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/app';

test('list shows which role signed each tag, and --json which keys', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const ci = publisherFor(server.url, await tempHome());
  const init = await owner.init(GUN);
  const ciKey = await ci.generateKey('ci');
  await owner.addDelegation(GUN, 'targets/ci', { keys: [ciKey.publicKey], paths: ['dev-*'] });
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 1000 });
  await ci.sign(`${GUN}:dev-1`, { digest: digestOf('b'), size: 7 }, { role: 'targets/ci' });

  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const list = await runCli(['list', GUN], env);
  t.is(list.code, 0, list.stderr);
  t.is(
    list.stdout,
    [
      `TAG    ${'DIGEST'.padEnd(71)}  SIZE  SIGNED BY`,
      `dev-1  ${digestOf('b')}  7     targets/ci`,
      `v1     ${digestOf('a')}  1000  targets`,
      '',
    ].join('\n'),
  );
  const json = await runCli(['list', GUN, '--json'], env);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(
    (JSON.parse(json.stdout) as { tag: string; signedBy: string; keyIds: string[] }[]).map((tag) => [tag.tag, tag.signedBy, tag.keyIds]),
    [
      ['dev-1', 'targets/ci', [ciKey.keyId]],
      ['v1', 'targets', [init.targetsKeyId]],
    ],
  );
});

test('a tag of a 2-of-2 role lists both keys that signed it', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const alice = publisherFor(server.url, await tempHome());
  const bob = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const keys = [await alice.generateKey('alice'), await bob.generateKey('bob')];
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*'] });
  const proposed = await alice.sign(`${GUN}:v1`, { digest: digestOf('c'), size: 3 }, { role: 'targets/release' });
  t.truthy(proposed.pending);
  await bob.approve(GUN, 'targets/release');

  const json = await runCli(['list', GUN, '--json'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() });
  t.is(json.code, 0, json.stderr);
  const [tag] = JSON.parse(json.stdout) as { signedBy: string; keyIds: string[] }[];
  t.is(tag!.signedBy, 'targets/release');
  t.deepEqual([...tag!.keyIds].sort(), keys.map((k) => k.keyId).sort());
});
