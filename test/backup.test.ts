import test from 'ava';
import { copyFile, cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@tagtrust/server';
import { ADMIN_TOKEN, secretCheckedLog, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { createToken, runServerCli } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';
const OTHER = 'registry.example.com/team/other';

/** Rewrites a backup file's entries with `edit` and gives it a matching end record (an attacker who can write the file). */
async function rewriteBackup(file: string, out: string, edit: (entry: [string, string]) => [string, string]): Promise<void> {
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  const entries = lines.slice(1, -1).map((line) => JSON.stringify(edit(JSON.parse(line) as [string, string])));
  const hash = createHash('sha256');
  for (const line of entries) hash.update(`${line}\n`);
  await writeFile(out, [lines[0], ...entries, JSON.stringify({ end: true, entries: entries.length, sha256: hash.digest('hex') })].join('\n') + '\n');
}

test('a backup taken under concurrent publishes restores every tag signed before it started, and verifies', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  await publisherFor(server.url, home).init(GUN);
  await publisherFor(server.url, await tempHome()).init(OTHER);
  await publisherFor(server.url, home).sign(`${GUN}:first`, { digest: digestOf('f'), size: 1 });

  const signed: string[] = ['first'];
  let stop = false;
  const signer = async (name: string, digit: string) => {
    const publisher = publisherFor(server.url, home);
    for (let n = 0; !stop; n += 1) {
      await publisher.sign(`${GUN}:${name}-${n}`, { digest: digestOf(digit), size: n + 1 });
      signed.push(`${name}-${n}`);
    }
  };
  const signers = [signer('a', 'a'), signer('b', 'b')];
  while (signed.length < 4) await new Promise((resolve) => setTimeout(resolve, 20));
  const signedBeforeBackup = [...signed];

  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-backup-'));
  const file = join(dir, 'backup.ndjson');
  const backup = await runServerCli(['backup', '--out', file, '--server', server.url, '--token', ADMIN_TOKEN]);
  stop = true;
  await Promise.all(signers);
  t.is(backup.code, 0, backup.stderr);
  t.regex(backup.stdout, /^Backed up \d+ entries \(as of .+\) to /);
  t.is(statSync(file).mode & 0o777, 0o600);
  t.false(backup.stdout.includes(ADMIN_TOKEN) || backup.stderr.includes(ADMIN_TOKEN));
  t.false((await readFile(file, 'utf8')).includes(ADMIN_TOKEN), 'no token secret in the backup');
  t.true(signed.length > signedBeforeBackup.length, 'publishes went on during the backup');

  const verified = await runServerCli(['verify-backup', file]);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  t.regex(verified.stdout, /^ok {6}registry\.example\.com\/team\/app \(\d+ tags?\)$/m);
  t.regex(verified.stdout, /2 of 2 collections verified/);

  const restored = await mkdtemp(join(tmpdir(), 'tagtrust-restored-'));
  const restore = await runServerCli(['restore', '--from', file, '--data', restored]);
  t.is(restore.code, 0, restore.stderr);
  t.regex(restore.stderr, /does not hold the master key: copy the old master\.key/);
  await copyFile(join(server.dataDir, 'master.key'), join(restored, 'master.key'));
  const again = await startServer({ listen: '127.0.0.1:0', dataDir: restored, adminToken: ADMIN_TOKEN, log: secretCheckedLog(t) });
  t.teardown(() => again.close());
  const puller = pullerFor(again.url, await tempHome());
  const answers = await puller.resolveEach(GUN, signedBeforeBackup);
  for (const tag of signedBeforeBackup) t.false(answers.get(tag) instanceof Error, `${tag} resolves from the restored server`);
  // The restored server still signs with the restored (sealed) online keys: a new tag publishes.
  // (From a home without the trusted state of after the backup: that one refuses the restored
  // collection as a rollback, as every client that saw later versions does; docs/operations.md.)
  const freshHome = await tempHome();
  await cp(join(home, 'keys'), join(freshHome, 'keys'), { recursive: true });
  await publisherFor(again.url, freshHome).sign(`${GUN}:after-restore`, { digest: digestOf('c'), size: 3 });
  t.is((await pullerFor(again.url, await tempHome()).resolve(`${GUN}:after-restore`)).digest, digestOf('c'));
});

test('restore refuses a non-empty target unless forced, a running server\'s database, and a damaged backup', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  await publisherFor(server.url, await tempHome()).init(GUN);
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-backup-'));
  const file = join(dir, 'backup.ndjson');
  t.is((await runServerCli(['backup', '--out', file, '--server', server.url, '--token', ADMIN_TOKEN])).code, 0);

  const target = await mkdtemp(join(tmpdir(), 'tagtrust-restored-'));
  t.is((await runServerCli(['restore', '--from', file, '--data', target])).code, 0);
  const refused = await runServerCli(['restore', '--from', file, '--data', target]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /already holds data: restore into an empty --data directory, or pass --force/);
  t.is((await runServerCli(['restore', '--from', file, '--data', target, '--force'])).code, 0);

  const locked = await runServerCli(['restore', '--from', file, '--data', server.dataDir, '--force']);
  t.is(locked.code, 2);
  t.regex(locked.stderr, /in use by a running tagtrust-server: stop it before restoring/);

  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  const cut = join(dir, 'cut.ndjson');
  await writeFile(cut, lines.slice(0, -1).join('\n') + '\n');
  const empty = await mkdtemp(join(tmpdir(), 'tagtrust-restored-'));
  const truncated = await runServerCli(['restore', '--from', cut, '--data', empty]);
  t.is(truncated.code, 1);
  t.regex(truncated.stderr, /is not a usable tagtrust backup: it is cut short \(no end record\)/);
  t.deepEqual(await readdir(empty), [], 'nothing restored from a damaged backup');
  const flipped = join(dir, 'flipped.ndjson');
  await writeFile(flipped, (await readFile(file, 'utf8')).replace('expires', 'expireS'));
  t.regex((await runServerCli(['verify-backup', flipped])).stderr, /do not match the count and checksum/);
});

test('verify-backup catches metadata changed inside a backup with a recomputed checksum', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-backup-'));
  const file = join(dir, 'backup.ndjson');
  t.is((await runServerCli(['backup', '--out', file, '--server', server.url, '--token', ADMIN_TOKEN])).code, 0);
  // Point v1 at another digest in the stored targets, keeping its signature.
  const tampered = join(dir, 'tampered.ndjson');
  await rewriteBackup(file, tampered, ([key, value]) => [key, key.startsWith('!files!') ? value.replaceAll('a'.repeat(64), 'e'.repeat(64)) : value]);
  const result = await runServerCli(['verify-backup', tampered]);
  t.is(result.code, 1);
  t.regex(result.stdout, /^FAILED {2}registry\.example\.com\/team\/app: /m);
  t.regex(result.stderr, /1 of 1 collections in .* fail verification/);
});

test('backup needs an admin token', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const push = await createToken(server.url, 'ci', ['push:registry.example.com/**']);
  const file = join(await mkdtemp(join(tmpdir(), 'tagtrust-backup-')), 'backup.ndjson');
  const result = await runServerCli(['backup', '--out', file, '--server', server.url, '--token', push]);
  t.is(result.code, 1);
  t.regex(result.stderr, /taking a backup/);
  t.false(result.stderr.includes(push));
  await t.throwsAsync(readFile(file));
});
