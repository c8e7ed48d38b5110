import test from 'ava';
import { join } from 'node:path';
import { NotSignedError, SubstitutionError } from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/app';

test('a CI key signs app:dev-* through a delegation and is refused for app:v1.0.0', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const ci = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const ciKey = await ci.generateKey('ci');

  const added = await owner.addDelegation(GUN, 'targets/ci', { keys: [ciKey.publicKey], threshold: 1, paths: [`${GUN}:dev-*`] });
  t.like(added, { role: 'targets', version: 2, attempts: 1, change: { role: 'targets/ci', before: undefined, after: { threshold: 1, keyIds: [ciKey.keyId] } } });

  const signed = await ci.sign(`${GUN}:dev-1`, { digest: digestOf('d'), size: 100 }, { role: 'targets/ci' });
  t.is(signed.role, 'targets/ci');
  t.is(signed.targetsVersion, 1);
  await ci.sign(`${GUN}:dev-2`, { digest: digestOf('e'), size: 100 }, { role: 'targets/ci' });

  const refused = await t.throwsAsync(ci.sign(`${GUN}:v1.0.0`, { digest: digestOf('f'), size: 100 }, { role: 'targets/ci' }));
  t.true(refused instanceof SubstitutionError);
  t.regex(refused!.message, /targets\/ci may not sign registry\.example\.com\/team\/app:v1\.0\.0: it is outside the paths delegated to targets\/ci/);

  const puller = pullerFor(server.url, await tempHome());
  const resolution = await puller.resolve(`${GUN}:dev-1`);
  t.is(resolution.digest, digestOf('d'));
  const missing = await t.throwsAsync(puller.resolve(`${GUN}:v1.0.0`));
  t.true(missing instanceof NotSignedError);

  // The owner still signs anything in the collection, and wins in TUF order.
  await owner.sign(`${GUN}:v1.0.0`, { digest: digestOf('a'), size: 10 });
  await owner.sign(`${GUN}:dev-2`, { digest: digestOf('b'), size: 10 });
  const tags = await puller.list(GUN);
  t.deepEqual(
    tags.map((tag) => [tag.tag, tag.digest, tag.signedBy]),
    [
      ['dev-1', digestOf('d'), 'targets/ci'],
      ['dev-2', digestOf('b'), 'targets'],
      ['v1.0.0', digestOf('a'), 'targets'],
    ],
  );
  t.is((await puller.resolve(`${GUN}:dev-2`)).digest, digestOf('b'));

  const delegations = await owner.listDelegations(GUN);
  t.is(delegations.length, 1);
  t.like(delegations[0], { role: 'targets/ci', delegator: 'targets', threshold: 1, paths: [`${GUN}:dev-*`], state: 'trusted', version: 2, tags: 2 });
});

test('nested delegations and terminating roles follow TUF order', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const team = publisherFor(server.url, await tempHome());
  const bot = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const teamKey = await team.generateKey('team');
  const botKey = await bot.generateKey('bot');
  const otherKey = await bot.generateKey('other');

  // targets/team (terminating, all tags) comes before targets/other (all tags).
  await owner.addDelegation(GUN, 'targets/team', { keys: [teamKey.publicKey], paths: ['*'], terminating: true });
  await owner.addDelegation(GUN, 'targets/other', { keys: [otherKey.publicKey], paths: ['*'] });
  await team.sign(`${GUN}:v1`, { digest: digestOf('1'), size: 1 }, { role: 'targets/team' });
  // team delegates nightly-* to a bot, one level down.
  await team.addDelegation(GUN, 'targets/team/bot', { keys: [botKey.publicKey], paths: ['nightly-*'] });
  await bot.sign(`${GUN}:nightly-1`, { digest: digestOf('2'), size: 1 }, { role: 'targets/team/bot' });
  // targets/other signs a tag nobody earlier signs: unreachable, the terminating team role hides it.
  await bot.sign(`${GUN}:v2`, { digest: digestOf('3'), size: 1 }, { role: 'targets/other' });

  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:nightly-1`)).digest, digestOf('2'));
  t.is((await puller.resolve(`${GUN}:v1`)).digest, digestOf('1'));
  await t.throwsAsync(puller.resolve(`${GUN}:v2`), { instanceOf: NotSignedError });
  t.deepEqual(
    (await puller.list(GUN)).map((tag) => [tag.tag, tag.signedBy]),
    [
      ['nightly-1', 'targets/team/bot'],
      ['v1', 'targets/team'],
    ],
  );
  const bad = await t.throwsAsync(bot.sign(`${GUN}:release-1`, { digest: digestOf('4'), size: 1 }, { role: 'targets/team/bot' }));
  t.regex(bad!.message, /outside the paths delegated to targets\/team\/bot/);
});

test('CLI: key generate, delegation add/list/remove, sign --role, list', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const ownerEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const ciHome = await tempHome();
  const ciEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: ciHome, TAGTRUST_CI_PASSPHRASE: 'ci-passphrase-for-tests' };
  t.is((await runCli(['init', GUN], ownerEnv)).code, 0);

  const pub = join(ciHome, 'ci.pub');
  const generated = await runCli(['key', 'generate', '--name', 'ci', '--out', pub], ciEnv);
  t.is(generated.code, 0, generated.stderr);
  t.regex(generated.stdout, /^Generated key "ci" [0-9a-f]{8}\n  private key: .*\.key\n  public key:  .*ci\.pub/);

  const add = await runCli(['delegation', 'add', GUN, 'targets/ci', '--key', pub, '--threshold', '1', '--paths', `${GUN}:dev-*`, '--paths', 'latest'], ownerEnv);
  t.is(add.code, 0, add.stderr);
  t.regex(add.stdout, /^targets\/ci in registry\.example\.com\/team\/app: new role\n  keys: +\(none\) -> [0-9a-f]{8}\n/);
  t.true(add.stdout.endsWith(`Delegated targets/ci in ${GUN}: 1 of 1 key (targets v2)\n`), add.stdout);

  const sign = await runCli(['sign', `${GUN}:dev-7`, '--digest', digestOf('c'), '--size', '42', '--role', 'targets/ci'], ciEnv);
  t.is(sign.code, 0, sign.stderr);
  t.is(sign.stdout, `Signed ${GUN}:dev-7 -> ${digestOf('c')} (targets/ci v1)\n`);
  const refused = await runCli(['sign', `${GUN}:v1.0.0`, '--digest', digestOf('c'), '--size', '42', '--role', 'targets/ci'], ciEnv);
  t.is(refused.code, 24, refused.stderr);
  t.regex(refused.stderr, /^tagtrust: targets\/ci may not sign registry\.example\.com\/team\/app:v1\.0\.0: it is outside the paths/);

  const list = await runCli(['delegation', 'list', GUN], ownerEnv);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^targets\/ci  threshold 1 of 1  \(v1, 1 tag\)\n  keys:  [0-9a-f]{8}\n  paths: registry\.example\.com\/team\/app:dev-\* registry\.example\.com\/team\/app:latest\n$/);

  const tags = await runCli(['list', GUN], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() });
  t.regex(tags.stdout, /dev-7 +sha256:c{64} +42/);

  const remove = await runCli(['delegation', 'remove', GUN, 'targets/ci'], ownerEnv);
  t.is(remove.code, 0, remove.stderr);
  t.regex(remove.stdout, /^targets\/ci in registry\.example\.com\/team\/app: removed\n/);
  t.true(remove.stdout.endsWith(`Removed targets/ci from ${GUN} (targets v3)\n`), remove.stdout);
  const gone = await runCli(['resolve', `${GUN}:dev-7`], ownerEnv);
  t.is(gone.code, 6, gone.stderr);
});

test('a delegated role that has signed nothing yet reads as empty, not as an error', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const signer = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const a = await signer.generateKey('a');
  const b = await signer.generateKey('b');
  await owner.addDelegation(GUN, 'targets/a', { keys: [a.publicKey], paths: ['*'] });
  await owner.addDelegation(GUN, 'targets/b', { keys: [b.publicKey], paths: ['*'] });
  const puller = pullerFor(server.url, await tempHome());
  await t.throwsAsync(puller.resolve(`${GUN}:v5`), { instanceOf: NotSignedError });
  // targets/a (first in order) is still unpublished; targets/b's tag is found after it.
  await signer.sign(`${GUN}:v5`, { digest: digestOf('5'), size: 5 }, { role: 'targets/b' });
  t.is((await puller.resolve(`${GUN}:v5`)).digest, digestOf('5'));
  t.deepEqual((await puller.list(GUN)).map((tag) => [tag.tag, tag.signedBy]), [['v5', 'targets/b']]);
  t.deepEqual(
    (await owner.listDelegations(GUN)).map((d) => [d.role, d.state, d.version]),
    [
      ['targets/a', 'unpublished', 0],
      ['targets/b', 'trusted', 1],
    ],
  );
});
