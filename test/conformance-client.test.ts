/**
 * The tuf-conformance client CLI (client/bin/tagtrust-tuf-client.js, protocol of the suite's
 * CLIENT-CLI.md) driven as the suite drives it: init, refresh, download, against static metadata
 * served on 127.0.0.1 and an artifact server. Generic target names (not `<gun>:<tag>`) are accepted.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tufBasePath } from '@tagtrust/shared';
import { attackFixture } from './harness/fixture.js';

const CLIENT = fileURLToPath(new URL('../client/bin/tagtrust-tuf-client.js', import.meta.url));

function runClient(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLIENT, ...args], { env: { PATH: process.env.PATH } }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

/** Serves artifacts by the last path segment (`<sha256>.<name>` with consistent snapshots); counts requests. */
async function artifactServer(t: import('ava').ExecutionContext, files: Record<string, Buffer>) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const name = Object.keys(files).find((file) => (req.url ?? '').endsWith(`.${file.split('/').pop()}`));
    if (!name) return void res.writeHead(404).end();
    res.writeHead(200).end(files[name]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/targets`, requests };
}

const describe = (bytes: Buffer) => ({ length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } });

async function setup(t: import('ava').ExecutionContext) {
  const fx = await attackFixture(t, { trusted: false });
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-conformance-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const metadataDir = join(dir, 'metadata');
  const targetDir = join(dir, 'targets');
  const rootFile = join(dir, 'initial_root.json');
  await writeFile(rootFile, fx.sim.fetch('1.root.json')!);
  const metadataUrl = `${fx.evil.url}${tufBasePath(fx.gun)}`;
  return { fx, dir, metadataDir, targetDir, rootFile, metadataUrl, base: ['--metadata-dir', metadataDir] };
}

test('init_refresh_download: a generic artifact name, cached on the second download', async (t) => {
  const { fx, metadataDir, targetDir, rootFile, metadataUrl, base } = await setup(t);
  const artifact = Buffer.from('artifact bytes\n');
  fx.sim.targets.targets['files/artifact.txt'] = describe(artifact);
  fx.sim.publishTargets();
  const targets = await artifactServer(t, { 'files/artifact.txt': artifact });

  t.is((await runClient([...base, 'init', rootFile])).code, 0);
  t.deepEqual(fx.evil.requested(fx.gun), [], 'init makes no request');
  const refresh = await runClient([...base, '--metadata-url', metadataUrl, 'refresh']);
  t.is(refresh.code, 0, refresh.stderr);
  t.deepEqual((await readdir(metadataDir)).sort(), ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
  for (const name of await readdir(metadataDir)) t.is((await stat(join(metadataDir, name))).mode & 0o777, 0o600, name);
  t.deepEqual((await readdir(join(metadataDir, '..'))).filter((name) => name.startsWith('.update-')), []);

  const download = ['--metadata-url', metadataUrl, '--target-name', 'files/artifact.txt', '--target-base-url', targets.url, '--target-dir', targetDir, 'download'];
  const first = await runClient([...base, ...download]);
  t.is(first.code, 0, first.stderr);
  t.deepEqual(await readFile(join(targetDir, encodeURIComponent('files/artifact.txt'))), artifact);
  t.is(targets.requests.length, 1);
  t.is((await runClient([...base, ...download])).code, 0);
  t.is(targets.requests.length, 1, 'the verified copy is reused');

  // A target whose served bytes do not match the signed hash is refused.
  const wrong = Buffer.from('other bytes!!!\n');
  fx.sim.targets.targets['files/other.txt'] = describe(artifact);
  fx.sim.publishTargets();
  const bad = await artifactServer(t, { 'files/other.txt': wrong });
  const refused = await runClient([...base, '--metadata-url', metadataUrl, '--target-name', 'files/other.txt', '--target-base-url', bad.url, '--target-dir', targetDir, 'download']);
  t.is(refused.code, 1);
  t.is(refused.stderr.trim().split('\n').length, 1, refused.stderr);
});

test('unsigned_initial_root: init refuses it, refresh fails without a request', async (t) => {
  const { fx, metadataDir, rootFile, metadataUrl, base } = await setup(t);
  const root = JSON.parse(await readFile(rootFile, 'utf8')) as { signatures: { sig: string }[] };
  root.signatures[0]!.sig = root.signatures[0]!.sig.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  await writeFile(rootFile, JSON.stringify(root));
  t.is((await runClient([...base, 'init', rootFile])).code, 1);
  t.is((await runClient([...base, '--metadata-url', metadataUrl, 'refresh'])).code, 1);
  t.deepEqual(fx.evil.requested(fx.gun), []);
  t.deepEqual(await readdir(metadataDir).catch(() => []), []);
});

test('failed_refresh_keeps_verified_roles: a bad snapshot leaves root and the new timestamp trusted', async (t) => {
  const { fx, metadataDir, rootFile, metadataUrl, base } = await setup(t);
  t.is((await runClient([...base, 'init', rootFile])).code, 0);
  t.is((await runClient([...base, '--metadata-url', metadataUrl, 'refresh'])).code, 0);
  fx.sim.updateSnapshot();
  fx.evil.override(fx.gun, `${fx.sim.snapshot.version}.snapshot.json`, fx.sim.forge(fx.sim.snapshot, []));
  t.is((await runClient([...base, '--metadata-url', metadataUrl, 'refresh'])).code, 1);
  const version = async (role: string) => (JSON.parse(await readFile(join(metadataDir, `${role}.json`), 'utf8')) as { signed: { version: number } }).signed.version;
  t.is(await version('timestamp'), fx.sim.timestamp.version);
  t.is(await version('snapshot'), fx.sim.snapshot.version - 1);
});

test('cached_role_is_verified_against_current_delegator: two lookups in one process, a diamond delegation', async (t) => {
  const { fx, targetDir, rootFile, metadataUrl, base } = await setup(t);
  const { sim } = fx;
  await sim.addDelegation('parent-a', { paths: ['team-a/*'] });
  await sim.addDelegation('parent-b', { paths: ['team-b/*'] });
  const keyOfA = await sim.addDelegation('release', { paths: ['team-a/*'] }, 'parent-a');
  await sim.addDelegation('release', { paths: ['team-b/*'] }, 'parent-b');
  sim.signers.set('release', [keyOfA]);
  const trusted = Buffer.from('trusted A');
  const malicious = Buffer.from('malicious B');
  (sim.signedOf('release') as { targets: Record<string, unknown> }).targets = { 'team-a/root.json': describe(trusted), 'team-b/root.json': describe(malicious) };
  for (const role of ['release', 'parent-a', 'parent-b', 'targets']) sim.publishTargets(role);
  const targets = await artifactServer(t, { 'team-a/root.json': trusted, 'team-b/root.json': malicious });
  t.is((await runClient([...base, 'init', rootFile])).code, 0);
  const result = await runClient([
    ...base, '--metadata-url', metadataUrl, '--target-name', 'team-a/root.json', '--target-name', 'team-b/root.json',
    '--target-base-url', targets.url, '--target-dir', targetDir, 'download',
  ]);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /release of the repository is not signed by the keys parent-b delegates it to/);
  t.deepEqual(await readdir(targetDir), [encodeURIComponent('team-a/root.json')]);
  t.deepEqual(await readFile(join(targetDir, encodeURIComponent('team-a/root.json'))), trusted);
});
