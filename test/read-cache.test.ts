/**
 * Cache-friendly reads: prepared bytes from memory, the header policy (immutable versions, short
 * max-age for timestamp.json, no-cache + ETag for other latest files), 304 on If-None-Match, gzip for
 * large files, cache replacement on publish and renewal on read. Each check runs against the cache
 * fast path and against the full Koa route (forced with a query string), which must answer alike.
 */
import test from 'ava';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_LIFETIMES } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/cache';
const base = `/v2/${GUN}/_trust/tuf`;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Both ways of answering: the cache fast path, and the Koa route (a query string skips the fast path). */
const PATHS = [
  ['fast path', ''],
  ['koa route', '?via=koa'],
] as const;

async function collection(tags: number) {
  const server = await startTestServer();
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  for (let i = 0; i < tags; i += 1) await publisher.sign(`${GUN}:v${i}`, { digest: digestOf(String(i % 10)), size: 1000 + i });
  return { server, publisher };
}

const versionOf = (body: Buffer) => (JSON.parse(body.toString('utf8')) as { signed: { version: number } }).signed.version;

test('timestamp.json: strong ETag, short public max-age, 304 on If-None-Match', async (t) => {
  const { server } = await collection(1);
  t.teardown(() => server.close());
  for (const [how, query] of PATHS) {
    const first = await get(server, `${base}/timestamp.json${query}`);
    t.is(first.status, 200, how);
    t.is(first.headers['content-type'], 'application/json', how);
    t.regex(String(first.headers.etag), /^"[A-Za-z0-9_-]{27}"$/, how);
    const maxAge = Number(/^public, max-age=(\d+)$/.exec(String(first.headers['cache-control']))?.[1]);
    t.true(maxAge > 0 && maxAge <= 60, `${how}: ${first.headers['cache-control']}`);
    t.true(maxAge * 1000 <= DEFAULT_LIFETIMES.timestamp / 10, how);
    const again = await get(server, `${base}/timestamp.json${query}`, { 'if-none-match': String(first.headers.etag) });
    t.is(again.status, 304, how);
    t.is(again.body.length, 0, how);
    t.is(again.headers.etag, first.headers.etag, how);
    const listed = await get(server, `${base}/timestamp.json${query}`, { 'if-none-match': `"nope", W/${first.headers.etag}` });
    t.is(listed.status, 304, `${how}: a weak tag in a list matches`);
    const other = await get(server, `${base}/timestamp.json${query}`, { 'if-none-match': '"something-else"' });
    t.is(other.status, 200, how);
  }
});

test('versioned files are immutable; other latest files are no-cache with an ETag', async (t) => {
  const { server } = await collection(1);
  t.teardown(() => server.close());
  for (const [how, query] of PATHS) {
    const latest = await get(server, `${base}/snapshot.json${query}`);
    t.is(latest.headers['cache-control'], 'no-cache', how);
    const version = versionOf(latest.body);
    const exact = await get(server, `${base}/${version}.snapshot.json${query}`);
    t.is(exact.status, 200, how);
    t.is(exact.headers['cache-control'], 'public, max-age=31536000, immutable', how);
    t.deepEqual(exact.body, latest.body, how);
    t.is(exact.headers.etag, latest.headers.etag, how);
    const old = await get(server, `${base}/1.snapshot.json${query}`);
    t.is(old.status, 200, `${how}: an older version comes from the store`);
    t.is(versionOf(old.body), 1, how);
    t.is(old.headers['cache-control'], 'public, max-age=31536000, immutable', how);
    const root = await get(server, `${base}/1.root.json${query}`);
    t.is(root.status, 200, how);
    const nextRoot = await get(server, `${base}/2.root.json${query}`);
    t.is(nextRoot.status, 404, `${how}: the next root does not exist`);
    t.is(nextRoot.headers['cache-control'], undefined, how);
  }
});

test('large files are gzipped for clients that accept it, with their own ETag and Vary', async (t) => {
  const { server } = await collection(12);
  t.teardown(() => server.close());
  // The Koa route makes the gzip copy; the fast path serves it once made.
  for (const [how, query] of [PATHS[1], PATHS[0]]) {
    const plain = await get(server, `${base}/targets.json${query}`);
    t.true(plain.body.length >= 1024, 'targets of 12 tags is large enough to compress');
    t.is(plain.headers['content-encoding'], undefined, how);
    t.is(plain.headers.vary, 'Accept-Encoding', how);
    const zipped = await get(server, `${base}/targets.json${query}`, { 'accept-encoding': 'gzip, deflate, br' });
    t.is(zipped.headers['content-encoding'], 'gzip', how);
    t.is(zipped.headers.vary, 'Accept-Encoding', how);
    t.true(zipped.body.length < plain.body.length / 2, how);
    t.deepEqual(gunzipSync(zipped.body), plain.body, how);
    t.not(zipped.headers.etag, plain.headers.etag, `${how}: each representation has its own strong ETag`);
    const notModified = await get(server, `${base}/targets.json${query}`, { 'accept-encoding': 'gzip', 'if-none-match': String(zipped.headers.etag) });
    t.is(notModified.status, 304, how);
    const refused = await get(server, `${base}/targets.json${query}`, { 'accept-encoding': 'gzip;q=0, identity' });
    t.is(refused.headers['content-encoding'], undefined, `${how}: q=0 refuses gzip`);
  }
  const small = await get(server, `${base}/timestamp.json`, { 'accept-encoding': 'gzip' });
  t.is(small.headers['content-encoding'], undefined, 'small files are sent as they are');
  t.is(small.headers.vary, undefined);
});

test('a publish replaces the cached latest files at once', async (t) => {
  const { server, publisher } = await collection(1);
  t.teardown(() => server.close());
  const before = await get(server, `${base}/timestamp.json`);
  const targetsBefore = await get(server, `${base}/targets.json`);
  await publisher.sign(`${GUN}:new`, { digest: digestOf('f'), size: 5 });
  const after = await get(server, `${base}/timestamp.json`);
  t.is(versionOf(after.body), versionOf(before.body) + 1);
  t.not(after.headers.etag, before.headers.etag);
  const stale = await get(server, `${base}/targets.json`, { 'if-none-match': String(targetsBefore.headers.etag) });
  t.is(stale.status, 200, 'an old ETag no longer matches');
  t.is(versionOf(stale.body), versionOf(targetsBefore.body) + 1);
  t.true(stale.body.toString('utf8').includes(`${GUN}:new`));
  const exact = await get(server, `${base}/${versionOf(stale.body)}.targets.json`);
  t.deepEqual(exact.body, stale.body);
});

test('update_timestamp_expired: reads renew a due timestamp, also on the fast path', async (t) => {
  const { server } = await collection(1);
  t.teardown(() => server.close());
  const before = await get(server, `${base}/timestamp.json`);
  const expires = Date.parse((JSON.parse(before.body.toString('utf8')) as { signed: { expires: string } }).signed.expires);
  // Past the renewal point (half the lifetime), then past the old expiry itself.
  for (const advance of [DEFAULT_LIFETIMES.timestamp * 0.6, DEFAULT_LIFETIMES.timestamp]) {
    server.clock.advance(advance);
    const after = await get(server, `${base}/timestamp.json`);
    const signed = (JSON.parse(after.body.toString('utf8')) as { signed: { version: number; expires: string } }).signed;
    t.true(signed.version > versionOf(before.body));
    t.true(Date.parse(signed.expires) > server.clock.now().getTime(), 'never an expired timestamp');
    t.true(Date.parse(signed.expires) > expires);
  }
});

test('a restarted server fills the cache from the store and serves the same bytes', async (t) => {
  const { server } = await collection(2);
  t.teardown(() => server.close());
  const paths = ['root.json', 'targets.json', 'snapshot.json', 'timestamp.json', '1.root.json'];
  const before = await Promise.all(paths.map((p) => get(server, `${base}/${p}`)));
  await server.restart();
  const after = await Promise.all(paths.map((p) => get(server, `${base}/${p}`)));
  const again = await Promise.all(paths.map((p) => get(server, `${base}/${p}`)));
  for (let i = 0; i < paths.length; i += 1) {
    t.deepEqual(after[i]!.body, before[i]!.body, paths[i]);
    t.deepEqual(again[i]!.body, before[i]!.body, paths[i]);
    t.is(again[i]!.headers.etag, before[i]!.headers.etag, paths[i]);
  }
});

test('with pull tokens required, cached files are not served without a token', async (t) => {
  const server = await startTestServer({ requirePullScope: true });
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  for (const file of ['timestamp.json', 'targets.json', '1.root.json']) {
    const anonymous = await get(server, `${base}/${file}`);
    t.is(anonymous.status, 401, file);
    const withToken = await get(server, `${base}/${file}`, { authorization: `Bearer ${ADMIN_TOKEN}` });
    t.is(withToken.status, 200, file);
  }
});

test('deleting a collection drops its cached files', async (t) => {
  const { server } = await collection(1);
  t.teardown(() => server.close());
  t.is((await get(server, `${base}/timestamp.json`)).status, 200);
  const deleted = await new Promise<number>((resolve, reject) => {
    const req = request(`${server.url}${base}/`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  t.is(deleted, 200);
  for (const file of ['timestamp.json', 'targets.json', 'snapshot.json', 'root.json']) t.is((await get(server, `${base}/${file}`)).status, 404, file);
});

test('a collection that does not exist: the same 404 both ways, remembered, and forgotten by its first publish', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const missing = 'registry.example.com/team/not-yet';
  const path = `/v2/${missing}/_trust/tuf`;
  const expected = { error: { code: 'NOT_FOUND', message: `${missing} has no timestamp metadata` } };
  // The first read asks the store; later ones are answered from what the cache remembers.
  for (const round of ['first', 'remembered']) {
    for (const [way, query] of PATHS) {
      const answer = await get(server, `${path}/timestamp.json${query}`);
      t.is(answer.status, 404, `${round}, ${way}`);
      t.is(answer.headers['content-type'], 'application/json; charset=utf-8', `${round}, ${way}`);
      const { error } = JSON.parse(answer.body.toString('utf8')) as { error: { requestId: string } };
      const { requestId, ...rest } = error;
      t.is(requestId, String(answer.headers['x-request-id']), `${round}, ${way}: the request's ID`);
      t.deepEqual({ error: rest }, expected, `${round}, ${way}`);
    }
  }
  t.deepEqual(JSON.parse((await get(server, `${path}/2.root.json`)).body.toString('utf8')).error.message, `${missing} has no version 2 of root metadata`);
  // Creating the collection makes it readable at once, on both ways.
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(missing);
  await publisher.sign(`${missing}:v1`, { digest: digestOf('a'), size: 10 });
  for (const [way, query] of PATHS) t.is((await get(server, `${path}/timestamp.json${query}`)).status, 200, way);
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${missing}:v1`)).digest, digestOf('a'));
});
