import test from 'ava';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { ExpiredMetadataError, Puller } from '@tagtrust/client';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';
import { SERVER_CLI, runServerCli } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';
const ELSEWHERE = 'registry.example.com/other/app';

/** A plain static file server over `root` (what any web server or CDN does): no tagtrust code. */
async function serveStatic(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://mirror').pathname)));
    if (!path.startsWith(root)) return void res.writeHead(404).end();
    readFile(path).then(
      (bytes) => res.writeHead(200, { 'content-type': 'application/json' }).end(bytes),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const exportTo = (url: string, out: string, ...more: string[]) => runServerCli(['export', '--out', out, '--server', url, '--token', ADMIN_TOKEN, ...more]);

test('an exported mirror served by a plain static server resolves; stale, it is refused; --gun selects', async (t) => {
  // 8 s timestamps: the mirror goes stale within the test.
  const server = await startTestServer({ timestampLifetime: 8000 });
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  await publisherFor(server.url, await tempHome()).init(ELSEWHERE);

  const out = await mkdtemp(join(tmpdir(), 'tagtrust-mirror-'));
  const exported = await exportTo(server.url, out, '--gun', 'registry.example.com/team/*');
  t.is(exported.code, 0, exported.stderr);
  t.regex(exported.stdout, /^Exported 1 collection\(s\) to /);
  t.deepEqual(await readdir(join(out, 'v2/registry.example.com')), ['team']);
  const files = await readdir(join(out, 'v2', GUN, '_trust/tuf'));
  t.true(['1.root.json', 'root.json', 'timestamp.json', '2.targets.json'].every((f) => files.includes(f)), files.join(' '));
  t.false(files.some((f) => f.endsWith('.tmp')));

  const mirror = await serveStatic(out);
  t.teardown(() => mirror.close());
  const home = await tempHome();
  const viaMirror = new Puller({ home, mirrors: [mirror.url], warn: () => {} });
  t.is((await viaMirror.resolve(`${GUN}:v1`)).digest, digestOf('a'));
  const cli = await runCli(['resolve', `${GUN}:v1`, '--home', await tempHome(), '--mirror', mirror.url], { TAGTRUST_SERVER: undefined });
  t.is(cli.code, 0, cli.stderr);
  t.is(cli.stdout.trim(), `${GUN}@${digestOf('a')}`);

  // Nobody re-exports: past the timestamp's lifetime the mirror is stale and refused, not trusted.
  await delay(8500);
  const err = await t.throwsAsync(viaMirror.resolve(`${GUN}:v1`));
  t.true(err instanceof ExpiredMetadataError, String(err));
  const stale = await runCli(['resolve', `${GUN}:v1`, '--home', await tempHome()], { TAGTRUST_SERVER: undefined, TAGTRUST_MIRRORS: mirror.url });
  t.is(stale.code, 21, stale.stderr);
  t.regex(stale.stderr, /expired/);

  // Re-exported, the same mirror is fresh again.
  t.is((await exportTo(server.url, out)).code, 0);
  t.is((await viaMirror.resolve(`${GUN}:v1`)).digest, digestOf('a'));
});

test('mirrors are tried in order after the server, and never see the token', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('b'), size: 10 });
  const out = await mkdtemp(join(tmpdir(), 'tagtrust-mirror-'));
  t.is((await exportTo(server.url, out)).code, 0);
  const mirror = await serveStatic(out);
  t.teardown(() => mirror.close());
  const empty = await serveStatic(await mkdtemp(join(tmpdir(), 'tagtrust-empty-mirror-')));
  t.teardown(() => empty.close());
  const seenAuthorization: (string | undefined)[] = [];
  const spy = createServer((req, res) => {
    seenAuthorization.push(req.headers.authorization);
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((done) => spy.close(() => done())));
  const spyUrl = `http://127.0.0.1:${(spy.address() as AddressInfo).port}`;

  // The server is down (a port nobody listens on): the empty mirror, then the good one.
  const down = `http://127.0.0.1:${(spy.address() as AddressInfo).port + 1}`;
  const warnings: string[] = [];
  const puller = new Puller({ server: down, home: await tempHome(), mirrors: [spyUrl, empty.url, mirror.url], token: 'tt_secret-for-the-server-only', warn: (m) => warnings.push(m) });
  t.is((await puller.resolve(`${GUN}:v1`)).digest, digestOf('b'));
  t.is(warnings.filter((w) => /trying mirror/.test(w)).length, 3);
  t.regex(warnings[0]!, new RegExp(`^${down} failed for ${GUN} .*trying mirror ${spyUrl}$`));
  t.regex(warnings[2]!, new RegExp(`trying mirror ${mirror.url}$`));
  t.true(seenAuthorization.length > 0);
  t.deepEqual([...new Set(seenAuthorization)], [undefined], 'no token sent to a mirror');

  // An answer is not a failure: a tag that is not signed is not looked for elsewhere.
  const answer = await runCli(['resolve', `${GUN}:v9`, '--home', await tempHome(), '--server', server.url, '--mirror', spyUrl]);
  t.is(answer.code, 6);
  t.notRegex(answer.stderr, /trying mirror/);
  // A mirror that is not a URL is a usage error.
  t.is((await runCli(['resolve', `${GUN}:v1`, '--mirror', 'ftp://x'])).code, 2);
});

test('export --watch keeps the mirror fresh past the timestamp lifetime and stops on SIGTERM', async (t) => {
  const server = await startTestServer({ timestampLifetime: 6000 });
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('c'), size: 10 });
  const out = await mkdtemp(join(tmpdir(), 'tagtrust-mirror-'));
  const child = spawn(process.execPath, [SERVER_CLI, 'export', '--out', out, '--server', server.url, '--token', ADMIN_TOKEN, '--watch', '--interval', '1s'], {
    env: { PATH: process.env.PATH },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  while (!stdout.includes('Exported')) await delay(50);
  const mirror = await serveStatic(out);
  t.teardown(() => mirror.close());
  await delay(7000);
  const puller = new Puller({ home: await tempHome(), mirrors: [mirror.url], warn: () => {} });
  t.is((await puller.resolve(`${GUN}:v1`)).digest, digestOf('c'));
  t.true(stdout.split('\n').filter((l) => l.startsWith('Exported')).length >= 3);
  child.kill('SIGTERM');
  t.is(await exited, 0);
});

test('export refuses names that would write outside the mirror directory (a malicious server)', async (t) => {
  const snapshot = { signed: { version: 1, meta: { 'targets.json': { version: 1 }, 'targets/../../../../../escape.json': { version: 1 } } } };
  const files: Record<string, unknown> = {
    '/_admin/collections': { collections: [{ gun: 'registry.example.com/team/app' }] },
    '/v2/registry.example.com/team/app/_trust/tuf/timestamp.json': { signed: { version: 1, meta: { 'snapshot.json': { version: 1 } } } },
    '/v2/registry.example.com/team/app/_trust/tuf/root.json': { signed: { version: 1 } },
    '/v2/registry.example.com/team/app/_trust/tuf/1.root.json': { signed: { version: 1 } },
    '/v2/registry.example.com/team/app/_trust/tuf/1.snapshot.json': snapshot,
    '/v2/registry.example.com/team/app/_trust/tuf/1.targets.json': { signed: { version: 1 } },
    '/v2/registry.example.com/team/app/_trust/tuf/1.targets/../../../../../escape.json': { signed: { version: 1 } },
  };
  const evil = createServer((req, res) => {
    const body = files[req.url ?? ''];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { error: { code: 'NOT_FOUND', message: 'no' } }));
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((done) => evil.close(() => done())));
  const parent = await mkdtemp(join(tmpdir(), 'tagtrust-mirror-parent-'));
  const out = join(parent, 'mirror');
  const result = await exportTo(`http://127.0.0.1:${(evil.address() as AddressInfo).port}`, out);
  t.is(result.code, 1);
  t.regex(result.stderr, /refusing to export registry\.example\.com\/team\/app 1\.targets\/\.\.\/.*escape\.json: not a plain path/);
  t.deepEqual(await readdir(parent), ['mirror']);
  t.false((await readdir(join(out, 'v2', GUN, '_trust/tuf'))).includes('timestamp.json'), 'an export that failed publishes no timestamp');

  files['/_admin/collections'] = { collections: [{ gun: '../../escape' }] };
  const badGun = await exportTo(`http://127.0.0.1:${(evil.address() as AddressInfo).port}`, out);
  t.is(badGun.code, 1);
  t.regex(badGun.stderr, /refusing to export \.\.\/\.\.\/escape/);
});
