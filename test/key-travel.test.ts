/**
 * Keys that travel between people and CI, through the real `tagtrust` binary: list, export, import
 * (with proof of the passphrase), passwd, remove; keys found by content and from TAGTRUST_SIGNING_KEY;
 * a warning for a key file others can read; `key generate` needs no server and leaves nothing behind
 * when it fails; global options before the command; --version.
 */
import test from 'ava';
import { chmod, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { PASSPHRASES, digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

const keyIdOf = (list: string, role: string) => {
  const row = (JSON.parse(list) as { role?: string; keyId: string }[]).find((k) => k.role === role);
  if (!row) throw new Error(`no ${role} key in ${list}`);
  return row.keyId;
};

test('export a targets key, import it elsewhere, sign from there; passwd; remove', async (t) => {
  const gun = 'registry.example.com/keys/travel';
  const owner = await tempHome();
  await publisherFor(server.url, owner).init(gun);
  const list = await runCli(['key', 'list', '--json', '--home', owner], { TAGTRUST_SERVER: undefined });
  t.is(list.code, 0, list.stderr);
  const targetsId = keyIdOf(list.stdout, 'targets');
  const table = await runCli(['--home', owner, 'key', 'list']);
  t.regex(table.stdout, new RegExp(`${gun}\\s+targets\\s+${targetsId.slice(0, 16)}`));

  const exported = join(owner, 'targets.export');
  t.is((await runCli(['key', 'export', targetsId.slice(0, 8), '--out', exported, '--home', owner])).code, 0);

  const ci = await tempHome();
  const wrong = await runCli(['key', 'import', exported, '--home', ci], { TAGTRUST_TARGETS_PASSPHRASE: 'not the passphrase' });
  t.is(wrong.code, 4, wrong.stderr);
  t.deepEqual(await readdir(ci).catch(() => []), [], 'a refused import writes nothing');
  const imported = await runCli(['key', 'import', exported, '--home', ci]);
  t.is(imported.code, 0, imported.stderr);
  t.regex(imported.stdout, /^Imported targets key [0-9a-f]{8} of registry\.example\.com\/keys\/travel into /);

  const sign = await runCli(['--server', server.url, '--home', ci, 'sign', `${gun}:v1`, '--digest', digestOf('a'), '--size', '10']);
  t.is(sign.code, 0, sign.stderr);

  const passwd = await runCli(['key', 'passwd', targetsId.slice(0, 8), '--home', ci], { TAGTRUST_NEW_PASSPHRASE: 'a new passphrase for ci' });
  t.is(passwd.code, 0, passwd.stderr);
  const old = await runCli(['sign', `${gun}:v2`, '--digest', digestOf('b'), '--size', '10', '--server', server.url, '--home', ci]);
  t.is(old.code, 4, 'the old passphrase no longer opens the key');
  t.regex(old.stderr, /^tagtrust: wrong passphrase for targets key/);
  const renewed = await runCli(['sign', `${gun}:v2`, '--digest', digestOf('b'), '--size', '10', '--server', server.url, '--home', ci], { TAGTRUST_TARGETS_PASSPHRASE: 'a new passphrase for ci' });
  t.is(renewed.code, 0, renewed.stderr);

  const unconfirmed = await runCli(['key', 'remove', targetsId.slice(0, 8), '--home', ci]);
  t.is(unconfirmed.code, 2);
  t.regex(unconfirmed.stderr, /add --yes to confirm/);
  t.is((await runCli(['key', 'remove', targetsId.slice(0, 8), '--yes', '--home', ci])).code, 0);
  t.deepEqual(JSON.parse((await runCli(['key', 'list', '--json', '--home', ci])).stdout), []);
});

test('keys are found by content and from TAGTRUST_SIGNING_KEY; an exposed key file is used with a warning', async (t) => {
  const gun = 'registry.example.com/keys/content';
  const owner = await tempHome();
  await publisherFor(server.url, owner).init(gun);
  const targetsId = keyIdOf((await runCli(['key', 'list', '--json', '--home', owner])).stdout, 'targets');
  const exported = (await runCli(['key', 'export', targetsId, '--home', owner])).stdout;

  await rename(join(owner, 'keys', `${targetsId}.key`), join(owner, 'keys', 'backup.key'));
  await chmod(join(owner, 'keys', 'backup.key'), 0o644);
  const byContent = await runCli(['sign', `${gun}:v1`, '--digest', digestOf('a'), '--size', '1', '--server', server.url, '--home', owner]);
  t.is(byContent.code, 0, byContent.stderr);
  t.regex(byContent.stderr, /backup\.key can be read by other users: run `chmod 600 /);

  const ci = await tempHome();
  const fromSecret = await runCli(['sign', `${gun}:v2`, '--digest', digestOf('b'), '--size', '1', '--server', server.url, '--home', ci], {
    TAGTRUST_SIGNING_KEY: Buffer.from(exported).toString('base64'),
  });
  t.is(fromSecret.code, 0, fromSecret.stderr);
  t.deepEqual(await readdir(join(ci, 'keys')).catch(() => []), [], 'the secret is not written to disk');
});

test('key generate needs no server and leaves no key behind when it fails', async (t) => {
  const home = await tempHome();
  const pub = join(home, 'ci.pub');
  const made = await runCli(['key', 'generate', '--name', 'ci', '--out', pub, '--home', home], { TAGTRUST_SERVER: undefined, TAGTRUST_CI_PASSPHRASE: PASSPHRASES.targets });
  t.is(made.code, 0, made.stderr);
  const before = await readdir(join(home, 'keys'));
  t.is(before.length, 1);

  await writeFile(join(home, 'taken.pub'), 'x');
  const taken = await runCli(['key', 'generate', '--name', 'bot', '--out', join(home, 'taken.pub'), '--home', home], { TAGTRUST_BOT_PASSPHRASE: PASSPHRASES.targets });
  t.is(taken.code, 2, taken.stderr);
  const noPassphrase = await runCli(['key', 'generate', '--name', 'bot', '--out', join(home, 'bot.pub'), '--home', home]);
  t.is(noPassphrase.code, 4, noPassphrase.stderr);
  t.deepEqual(await readdir(join(home, 'keys')), before, 'no orphan private key');
  t.false((await readdir(home)).includes('bot.pub'), 'no orphan public key');
});

test('--version, and global options before the command', async (t) => {
  const version = await runCli(['--version']);
  t.is(version.code, 0);
  t.regex(version.stdout, /^tagtrust \d+\.\d+\.\d+\n$/);
  const early = await runCli(['--server', 'http://127.0.0.1:1', '--timeout', '2', 'resolve', 'docker.io/library/x:1']);
  t.is(early.code, 9, early.stderr);
  t.regex(early.stderr, /127\.0\.0\.1:1/);
});

test('signing without the key says which role needs which key, and how a delegate picks its role', async (t) => {
  const gun = 'registry.example.com/keys/missing';
  await publisherFor(server.url, await tempHome()).init(gun);
  const stranger = await runCli(['sign', `${gun}:v1`, '--digest', digestOf('a'), '--size', '1', '--server', server.url, '--home', await tempHome()]);
  t.is(stranger.code, 4, stranger.stderr);
  t.regex(
    stranger.stderr,
    /\ntagtrust: no private key for the targets role of registry\.example\.com\/keys\/missing in .* \(it needs [0-9a-f]{8}\): .* a delegate signs with --role targets\/<name> \(see `tagtrust delegation list registry\.example\.com\/keys\/missing`\)\n$/,
  );
});
