/**
 * `tagtrust import-notary` against Debian's real notary-server and notary CLI: a collection built with
 * the notary CLI (targets and a targets/releases delegation, as `docker trust sign` writes) is
 * verified with its own trust data and signed into tagtrust; a dry run changes nothing; a second run
 * signs nothing; tampered Notary metadata (from a local trust directory) and a root that does not
 * match the pinned key ID are refused before anything is signed.
 */
import test from 'ava';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { startNotaryServer } from './helpers/notary.js';
import type { NotaryServer } from './helpers/notary.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';

let server: TestServer;
let notary: NotaryServer;
test.before(async () => {
  [server, notary] = await Promise.all([startTestServer(), startNotaryServer()]);
});
test.after.always(async () => {
  await Promise.all([server?.close(), notary?.close()]);
});

const hex = (char: string) => char.repeat(64);

/** A Notary collection: v1 and v2 in targets, v3 and a different v1 in targets/releases. */
async function notaryCollection(gun: string): Promise<{ manifestDigest: string }> {
  await notary.notary(['init', gun]);
  const manifest = join(notary.dir, 'manifest.json');
  await writeFile(manifest, '{"schemaVersion":2}\n');
  await notary.notary(['add', gun, 'v1', manifest]);
  await notary.notary(['addhash', gun, 'v2', '1234', '--sha256', hex('a')]);
  await notary.notary(['publish', gun]);
  await notary.notary(['delegation', 'add', gun, 'targets/releases', await notary.delegationKey('targets/releases'), '--all-paths']);
  await notary.notary(['publish', gun]);
  await notary.notary(['addhash', gun, 'v3', '555', '--sha256', hex('b'), '--roles', 'targets/releases']);
  await notary.notary(['addhash', gun, 'v1', '556', '--sha256', hex('c'), '--roles', 'targets/releases']);
  await notary.notary(['publish', gun]);
  return { manifestDigest: `sha256:${createHash('sha256').update('{"schemaVersion":2}\n').digest('hex')}` };
}

const fromServer = () => ['--notary-server', notary.url, '--notary-ca', notary.caFile];

test('a Notary collection is verified and its tags signed into tagtrust, as Docker Content Trust resolves them', async (t) => {
  const gun = 'registry.example.com/notary/app';
  await notaryCollection(gun);
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  const cli = (args: string[]) => runCli([...args, '--server', server.url, '--home', home]);

  const dry = await cli(['import-notary', gun, ...fromServer(), '--dry-run', '--json']);
  t.is(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { signed: number; entries: { tag: string; digest: string; size: number; role: string; action: string }[] };
  t.is(plan.signed, 0);
  t.deepEqual(
    plan.entries.map((e) => [e.tag, e.digest, e.size, e.role, e.action]),
    [
      ['v1', digestOf('c'), 556, 'targets/releases', 'add'],
      ['v2', digestOf('a'), 1234, 'targets', 'add'],
      ['v3', digestOf('b'), 555, 'targets/releases', 'add'],
    ],
  );
  const puller = pullerFor(server.url, await tempHome());
  t.deepEqual(await puller.list(gun), [], 'a dry run signs nothing');

  const imported = await cli(['import-notary', gun, ...fromServer()]);
  t.is(imported.code, 0, imported.stderr);
  t.regex(imported.stdout, /Imported 3 of 3 tag\(s\) of Notary registry\.example\.com\/notary\/app into registry\.example\.com\/notary\/app\n$/);
  t.is((await puller.resolve(`${gun}:v1`)).digest, digestOf('c'));
  t.is((await puller.resolve(`${gun}:v2`)).size, 1234);
  t.is((await puller.resolve(`${gun}:v3`)).digest, digestOf('b'));

  const again = await cli(['import-notary', gun, ...fromServer()]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /Imported 0 of 3 tag\(s\)/);
  t.is((again.stdout.match(/already signed/g) ?? []).length, 3);
});

test('tampered Notary metadata or an unexpected Notary root is refused, and nothing is signed', async (t) => {
  const gun = 'registry.example.com/notary/tampered';
  await notaryCollection(gun);
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  const cli = (args: string[]) => runCli([...args, '--server', server.url, '--home', home]);
  const trustDir = await tempHome();
  const metadata = join(trustDir, 'tuf', gun, 'metadata');
  const copy = () => cp(join(notary.trustDir, 'tuf', gun, 'metadata'), metadata, { recursive: true });
  await copy();

  const fine = await cli(['import-notary', gun, '--trust-dir', trustDir, '--dry-run']);
  t.is(fine.code, 0, fine.stderr);

  const targetsFile = join(metadata, 'targets.json');
  const targets = JSON.parse(await readFile(targetsFile, 'utf8'));
  targets.signed.targets.v2.hashes.sha256 = Buffer.from(hex('d'), 'hex').toString('base64');
  await writeFile(targetsFile, JSON.stringify(targets));
  const swapped = await cli(['import-notary', gun, '--trust-dir', trustDir]);
  t.is(swapped.code, 23, swapped.stderr);
  t.regex(swapped.stderr, /^tagtrust: targets\.json of registry\.example\.com\/notary\/tampered from the Notary trust directory .* is not the file its parent lists/);

  const snapshotFile = join(metadata, 'snapshot.json');
  const snapshot = JSON.parse(await readFile(snapshotFile, 'utf8'));
  const bytes = await readFile(targetsFile);
  snapshot.signed.meta.targets = { length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('base64') } };
  await writeFile(snapshotFile, JSON.stringify(snapshot));
  const timestampFile = join(metadata, 'timestamp.json');
  const timestamp = JSON.parse(await readFile(timestampFile, 'utf8'));
  const snapshotBytes = await readFile(snapshotFile);
  timestamp.signed.meta.snapshot = { length: snapshotBytes.length, hashes: { sha256: createHash('sha256').update(snapshotBytes).digest('base64') } };
  await writeFile(timestampFile, JSON.stringify(timestamp));
  const forged = await cli(['import-notary', gun, '--trust-dir', trustDir]);
  t.is(forged.code, 22, forged.stderr);
  t.regex(forged.stderr, /timestamp\.json .* is signed by 0 of the 1 distinct key\(s\) its role needs/);

  const pinned = await cli(['import-notary', gun, ...fromServer(), '--notary-root-keyid', 'ffffffff']);
  t.is(pinned.code, 25, pinned.stderr);
  t.regex(pinned.stderr, /not by the pinned ffffffff: refusing it/);
  t.deepEqual(await pullerFor(server.url, await tempHome()).list(gun), [], 'nothing was signed');
});

test('import-notary says what is missing', async (t) => {
  const gun = 'registry.example.com/notary/absent';
  const home = await tempHome();
  const neither = await runCli(['import-notary', gun, '--server', server.url, '--home', home]);
  t.is(neither.code, 2);
  t.regex(neither.stderr, /give one of --notary-server URL or --trust-dir DIR/);
  const noDir = await runCli(['import-notary', gun, '--trust-dir', home, '--server', server.url, '--home', home]);
  t.is(noDir.code, 5);
  t.regex(noDir.stderr, /no Notary metadata for registry\.example\.com\/notary\/absent in /);
  await notary.notary(['init', gun]);
  await notary.notary(['addhash', gun, 'v1', '10', '--sha256', hex('e')]);
  await notary.notary(['publish', gun]);
  const noCollection = await runCli(['import-notary', gun, ...fromServer(), '--server', server.url, '--home', home]);
  t.is(noCollection.code, 5, noCollection.stderr);
  t.regex(noCollection.stderr, /create it with `tagtrust init registry\.example\.com\/notary\/absent`, then import/);
});
